"""How one setting is declared, and what every face of the pipeline derives from that declaration.

A setting is a pydantic field declared with ``setting(...)``: its type and constraints, its default, its
environment variable, its help text, and whether it is also resource config (read by the run's steps).
From that one declaration come the CLI flag (``--`` + the variable without ``SPRITES_``, lower case, dashes),
the Dagster resource's config field, the environment handed to ``dagster dev`` and the README's table.
No dagster or click import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from pipeline.errors import ConfigError

__all__ = ["SettingInfo", "describe", "env_value", "invalid_settings", "setting"]

_KEY = "sprites_setting"


def setting(
    default: Any = None,
    *,
    env: str,
    help: str,
    default_doc: str | None = None,
    resource: bool = False,
    flag: bool = True,
    **constraints: Any,
) -> Any:
    """A settings field read from ``env``; ``resource``: also the run resource's config (the steps read it);
    ``flag=False``: no CLI flag (a secret, which a command line would show in ``ps``); ``default_doc``: the
    default as the docs say it, when the value itself is computed (e.g. a folder under the project)."""
    extra: dict[str, Any] = {_KEY: {"help": help, "default_doc": default_doc, "resource": resource, "flag": flag}}
    return Field(default, validation_alias=env, description=help, json_schema_extra=extra, **constraints)


@dataclass(frozen=True)
class SettingInfo:
    """One setting as every face sees it."""

    name: str  # the model's attribute, the resource config key and the keyword of ``Settings.for_project``
    env: str
    flag: str | None
    help: str
    default_doc: str
    resource: bool
    annotation: Any
    secret: bool
    choices: tuple[str, ...]

    @property
    def where(self) -> str:
        """Every spelling a user may have used: variable, flag, resource config key."""
        names = [n for n in (self.flag, f"resource config {self.name}" if self.resource else None) if n]
        return f"{self.env} ({', '.join(names)})" if names else self.env


def _choices(annotation: Any) -> tuple[str, ...]:
    args = get_args(annotation)
    if str(get_origin(annotation)) == "typing.Literal":
        return tuple(str(a) for a in args)
    for arg in args:
        found = _choices(arg)
        if found:
            return found
    return ()


def _default_doc(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if value is None or value == () or value == frozenset():
        return "none"
    if isinstance(value, frozenset):
        value = ",".join(sorted(value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def describe(model: type[BaseModel]) -> list[SettingInfo]:
    """Every setting of ``model``, in declaration order."""
    infos = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        meta = extra.get(_KEY) if isinstance(extra, dict) else None
        if not isinstance(meta, dict):
            continue
        env = str(info.validation_alias)
        flag = "--" + env.removeprefix("SPRITES_").lower().replace("_", "-") if meta["flag"] else None
        infos.append(
            SettingInfo(
                name=name,
                env=env,
                flag=flag,
                help=str(meta["help"]),
                default_doc=str(meta["default_doc"] or _default_doc(info)),  # markdown
                resource=bool(meta["resource"]),
                annotation=info.annotation,
                secret=SecretStr in (info.annotation, *get_args(info.annotation)),
                choices=_choices(info.annotation),
            )
        )
    return infos


def env_value(value: Any) -> str | None:
    """A setting's value as its environment variable spells it (None: leave the variable unset)."""
    if value is None or isinstance(value, SecretStr):
        return None
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "none"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _shown(value: Any) -> str:
    """The value given, spelled the same whichever face it came through (flag and variable: a string;
    resource config: a number or a list)."""
    if isinstance(value, Path):
        return ""  # the message names the resolved folder
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list | tuple):
        value = ",".join(map(str, value))
    return f" (got {str(value)!r})"


def invalid_settings(exc: ValidationError, infos: list[SettingInfo]) -> ConfigError:
    """A validation error as one ConfigError naming each setting (variable, flag, resource key), its problem,
    and the value given (never a secret's)."""
    by_key = {k: i for i in infos for k in (i.name, i.env)}
    problems = []
    for error in exc.errors():
        info = by_key.get(str(error["loc"][0])) if error["loc"] else None
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if info is None:
            problems.append(message)
            continue
        got = "" if info.secret or "input" not in error else _shown(error["input"])
        problems.append(f"{info.where}: {message}{got}")
    return ConfigError("invalid setting: " + "; ".join(problems))
