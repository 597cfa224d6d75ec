"""Options shared by the ``sprites`` commands, and the translation of our errors into exit codes."""

from __future__ import annotations

import fnmatch
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from pipeline.cli.settings_options import GENERATION, PROJECT, settings_from, settings_options
from pipeline.errors import SpecError, SpriteError
from pipeline.interrupts import Interrupted
from pipeline.settings import Settings
from pipeline.specs.categories import Categories, unknown_category

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

        from pipeline.specs.categories import read_categories

        try:
            names = read_categories(Settings.from_env().specs_dir).names
        except SpriteError:
            return []
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


CATEGORY = _CategoryType()


def select_names(
    all_names: list[str],
    patterns: tuple[str, ...],
    categories: dict[str, str],
    category: str | None = None,
    allowed: Categories | None = None,
) -> list[str]:
    """Sprite names matching ``patterns`` (names or globs; all when empty), optionally of one category
    (which must be one of the project's, ``allowed``)."""
    if category and allowed is not None and category not in allowed:
        raise click.BadParameter(unknown_category(category, allowed), param_hint="'--category'")
    chosen: list[str] = []
    if not patterns:
        chosen = list(all_names)
    for pattern in patterns:
        matches = fnmatch.filter(all_names, pattern)
        if not matches:
            import difflib

            near = difflib.get_close_matches(pattern, all_names, n=3)
            hint = f" Did you mean: {', '.join(near)}?" if near else " Run `sprites list` to see them."
            raise click.BadParameter(f"no sprite matches '{pattern}'.{hint}", param_hint="SELECTION")
        chosen += [m for m in matches if m not in chosen]
    if category:
        chosen = [n for n in chosen if categories[n] == category]
    return chosen
