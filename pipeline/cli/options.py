"""Options shared by the ``sprites`` commands, and the translation of our errors into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from pipeline.errors import SpecError, SpriteError
from pipeline.interrupts import Interrupted
from pipeline.settings import Settings
from pipeline.specs import SpecSet

__all__ = ["CATEGORY", "console", "project_options", "select_names", "settings_from", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def project_options(fn: F) -> F:
    """Folder, server, backend and Dagster home options (each also an environment variable)."""
    options = [
        click.option(
            "--project-dir",
            envvar="SPRITES_PROJECT_DIR",
            type=click.Path(file_okay=False),
            help="Project root (holds sprite_specs/). Default: nearest parent with sprite_specs/.",
        ),
        click.option(
            "--specs-dir",
            envvar="SPRITES_SPECS_DIR",
            type=click.Path(file_okay=False),
            help="Sprite spec folder. Default: <project>/sprite_specs.",
        ),
        click.option(
            "--assets-dir",
            envvar="SPRITES_ASSETS_DIR",
            type=click.Path(file_okay=False),
            help="Bevy assets folder to write into. Default: <project>/bevy_target/assets.",
        ),
        click.option(
            "--cache-dir",
            envvar="SPRITES_CACHE_DIR",
            type=click.Path(file_okay=False),
            help="Content-addressed cache. Default: <project>/.sprites/cache.",
        ),
        click.option(
            "--comfyui-url",
            envvar="SPRITES_COMFYUI_URL",
            help="ComfyUI server URL(s), comma-separated, for specs with backend: comfyui.",
        ),
        click.option(
            "--backend",
            envvar="SPRITES_BACKEND",
            type=click.Choice(["procedural", "comfyui", "image"]),
            help="Generate every sprite on this backend, overriding the specs' generation.backend.",
        ),
        click.option(
            "--dagster-home",
            envvar="DAGSTER_HOME",
            type=click.Path(file_okay=False),
            help="Dagster instance folder. Default: <project>/dagster_home.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the shared options (which are popped from kwargs)."""
    project = kwargs.pop("project_dir", None)
    overrides = {
        "specs_dir": kwargs.pop("specs_dir", None),
        "assets_dir": kwargs.pop("assets_dir", None),
        "cache_dir": kwargs.pop("cache_dir", None),
        "comfyui_urls": kwargs.pop("comfyui_url", None),
        "backend": kwargs.pop("backend", None),
        "dagster_home": kwargs.pop("dagster_home", None),
    }
    return Settings.from_env(project_dir=project, **overrides)


def user_errors(fn: F) -> F:
    """Print our own errors as messages (no traceback): exit 2 for invalid specs, 1 for everything else."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            click.echo(f"error: {exc}", err=True)
            click.echo("Fix the specs above and run `sprites check` again.", err=True)
            sys.exit(2)
        except Interrupted as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:  # before any work started: nothing to clean up
            click.echo("error: interrupted (SIGINT) before anything was built", err=True)
            sys.exit(130)
        except SpriteError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class _CategoryType(click.ParamType):
    """A category of the project: checked against its list once the specs are loaded (``select_names``);
    shell completion offers the list of the project in the working directory."""

    name = "category"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from pipeline.specs.categories import read_categories

        try:
            names = read_categories(Settings.from_env().specs_dir).names
        except SpriteError:
            return []
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


CATEGORY = _CategoryType()


def select_names(spec_set: SpecSet, patterns: tuple[str, ...], category: str | None = None) -> list[str]:
    """Sprite names matching ``patterns`` (names or globs; all when empty), optionally of one category
    (one of the project's): the build service's selection, with the command line's hints."""
    from pipeline.service import NoSuchSprite, UnknownCategory, select

    try:
        return select(spec_set, patterns, category)
    except UnknownCategory as exc:
        raise click.BadParameter(str(exc), param_hint="'--category'") from None
    except NoSuchSprite as exc:
        hint = f" Did you mean: {', '.join(exc.near)}?" if exc.near else " Run `sprites list` to see them."
        raise click.BadParameter(f"no sprite matches '{exc.pattern}'.{hint}", param_hint="SELECTION") from None
