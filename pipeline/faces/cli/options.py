"""Options shared by the ``sprites`` commands, and the translation of our errors into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from pipeline.core.interrupts import Interrupted
from pipeline.core.specs import SpecSet
from pipeline.errors import SpecError, SpriteError
from pipeline.faces.cli.settings_options import GENERATION, PROJECT, settings_from, settings_options
from pipeline.settings import Settings

__all__ = ["CATEGORY", "console", "project_options", "select_names", "settings_from", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def project_options(fn: F) -> F:
    """The flags of the folder, server, backend and Dagster home settings (each also an environment variable)."""
    return settings_options(*PROJECT, *GENERATION)(fn)


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

        from pipeline.core.specs.categories import read_categories

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
