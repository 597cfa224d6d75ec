"""Click options derived from the settings model: a command names the settings it takes, and gets their flags.

Every flag takes the value as text, exactly as its environment variable would: ``Settings`` validates both,
so a bad value is the same error whichever way it came (``error: invalid setting: SPRITES_X (--x): ...``).
Flags win over environment variables, which win over defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pipeline.settings import SETTINGS, SettingInfo, Settings

__all__ = ["ALL_FLAGS", "GENERATION", "PROJECT", "settings_from", "settings_options"]

F = TypeVar("F", bound=Callable[..., Any])

_BY_NAME = {info.name: info for info in SETTINGS}
#: folders, the remote cache tier and the Dagster instance
PROJECT = (
    "project_dir",
    "specs_dir",
    "workflows_dir",
    "assets_dir",
    "cache_dir",
    "cache_url",
    "state_dir",
    "dagster_home",
)
#: how sprites are generated
GENERATION = ("backend", "comfyui_urls", "comfyui_max_inflight", "comfyui_job_timeout", "comfyui_failover_after")
#: every setting that has a flag
ALL_FLAGS = tuple(info.name for info in SETTINGS if info.flag)


class _SettingText(click.ParamType):
    """A setting's value, passed on as text (``Settings`` checks it); completes its choices, if any."""

    def __init__(self, info: SettingInfo):
        self.info = info
        self.name = "|".join(info.choices) if info.choices else info.env.removeprefix("SPRITES_")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.info.choices if c.startswith(incomplete)]


def settings_options(*names: str) -> Callable[[F], F]:
    """Add the flags of the named settings (field names of ``Settings``) to a command."""
    unknown = [n for n in names if n not in _BY_NAME or not _BY_NAME[n].flag]
    if unknown:
        raise ValueError(f"no such setting with a flag: {unknown}")

    def decorate(fn: F) -> F:
        for name in reversed(names):
            info = _BY_NAME[name]
            assert info.flag is not None
            default = info.default_doc.replace("`", "")
            text = f"{info.help[0].upper()}{info.help[1:]}. Env {info.env}; default: {default}."
            fn = click.option(info.flag, info.name, type=_SettingText(info), default=None, help=text)(fn)
        return fn

    return decorate


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the command's setting flags (popped from ``kwargs``)."""
    given = {name: kwargs.pop(name) for name in list(kwargs) if name in _BY_NAME}
    return Settings.from_env(**given)
