"""Every setting of the pipeline in one typed model: where things live, which servers, how it runs.

Each field is declared once (``pipeline.settings.fields.setting``) with its type, default, environment
variable and help; the CLI flags (``pipeline.faces.cli.settings_options``), the Dagster resource's config
(``pipeline.defs.resources``), the environment ``sprites dev`` hands to ``dagster dev`` (``Settings.environment``)
and the README's table (``pipeline.settings.docs``) are derived from it. A value is validated here, by the
same rules whichever face it came through, and an invalid one is one ``ConfigError`` naming the variable,
the flag and what is accepted.

``Settings.from_env()`` is called by the entry points (CLI, ``definitions.py``, MCP server), never at
import time of a library module. Folders are resolved to absolute paths; a relative one is relative to the
project folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, InitSettingsSource, NoDecode, SettingsConfigDict

from pipeline.errors import ConfigError
from pipeline.settings.fields import SettingInfo, describe, env_value, invalid_settings, setting
from pipeline.settings.sections import AutomationSettings, ExecutorSettings, check_url

__all__ = ["BACKEND_KINDS", "MIN_TOKEN_LENGTH", "SETTINGS", "Settings", "find_project_dir"]

MIN_TOKEN_LENGTH = 16
# the generation backends a setting or a spec may name (pipeline.core.generate.make_backend builds them)
BACKEND_KINDS = ("procedural", "comfyui", "image")

#: folder settings and where they are by default, under the project folder
_UNDER_PROJECT = {
    "specs_dir": "sprite_specs",
    "workflows_dir": "comfy_workflows",
    "assets_dir": "bevy_target/assets",
    "cache_dir": ".sprites/cache",
    "state_dir": ".sprites/state",
    "dagster_home": "dagster_home",
}


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) with ``sprite_specs/``.

    Falls back to the checkout this package lives in, so ``dagster dev`` started anywhere in the repo works.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "sprite_specs").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent.parent


class _Environment(EnvSettingsSource):
    """Environment variables from a given mapping (``os.environ`` by default)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in self._environ.items() if v != ""}  # empty: unset (a shell's `X= cmd`)


class Settings(BaseSettings, AutomationSettings, ExecutorSettings):
    """Resolved, absolute folders and servers for one pipeline, and how it runs (automation, executor)."""

    # validate_default off (pydantic-settings turns it on): the defaults are valid, and checking the cron
    # default would import Dagster into every CLI command
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, case_sensitive=True, env_prefix="", validate_default=False
    )

    project_dir: Path = setting(
        env="SPRITES_PROJECT_DIR",
        help="project root (holds sprite_specs/)",
        default_doc="nearest parent of the working directory with `sprite_specs/`",
        resource=True,
    )
    specs_dir: Path = setting(
        env="SPRITES_SPECS_DIR", help="sprite spec YAML folder", default_doc="`<project>/sprite_specs`", resource=True
    )
    workflows_dir: Path = setting(
        env="SPRITES_WORKFLOWS_DIR",
        help="ComfyUI workflow templates",
        default_doc="`<project>/comfy_workflows`",
        resource=True,
    )
    assets_dir: Path = setting(
        env="SPRITES_ASSETS_DIR",
        help="the Bevy assets folder written into (nothing outside it is ever written)",
        default_doc="`<project>/bevy_target/assets`",
        resource=True,
    )
    cache_dir: Path = setting(
        env="SPRITES_CACHE_DIR",
        help="content-addressed cache (a plain folder; share it between machines and CI)",
        default_doc="`<project>/.sprites/cache`",
        resource=True,
    )
    cache_url: str | None = setting(
        env="SPRITES_CACHE_URL",
        help="remote cache tier behind the local one: s3://bucket/prefix (endpoint, region and keys: the usual "
        "AWS_* variables)",
        resource=True,
    )
    state_dir: Path = setting(
        env="SPRITES_STATE_DIR",
        help="per-machine state, a cache that may be deleted at any time (fast-path record, entries of running "
        "builds, scratch files for atomic writes)",
        default_doc="`<project>/.sprites/state`",
        resource=True,
    )
    dagster_home: Path = setting(
        env="DAGSTER_HOME",
        help="Dagster instance folder (the project's ships dagster.yaml: run queue, comfyui pool, retention)",
        default_doc="`<project>/dagster_home`",
        resource=True,
    )
    comfyui_urls: Annotated[tuple[str, ...], NoDecode] = setting(
        (), env="SPRITES_COMFYUI_URL", help="ComfyUI server URL, or several separated by commas", resource=True
    )
    comfyui_max_inflight: int = setting(
        2,
        env="SPRITES_COMFYUI_MAX_INFLIGHT",
        help="jobs per ComfyUI server at once: running + waiting",
        resource=True,
        ge=1,
        le=64,
    )
    comfyui_job_timeout: float = setting(
        1800.0,
        env="SPRITES_COMFYUI_JOB_TIMEOUT",
        help="seconds before a still-running ComfyUI job is interrupted",
        resource=True,
        gt=0,
    )
    comfyui_failover_after: float = setting(
        30.0,
        env="SPRITES_COMFYUI_FAILOVER_AFTER",
        help="seconds a ComfyUI server may be unreachable before its jobs move to another",
        resource=True,
        gt=0,
    )
    backend: str | None = setting(
        env="SPRITES_BACKEND",
        help="generate every sprite on this backend (procedural, comfyui or image), overriding the specs' "
        "generation.backend",
        default_doc="none: each spec's `generation.backend`",
    )
    mcp_token: SecretStr | None = setting(
        env="SPRITES_MCP_TOKEN",
        help="bearer token for `sprites mcp --http`, at least 16 characters (required off loopback; no flag: a "
        "command line is visible to every user of the machine)",
        flag=False,
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], *sources: Any) -> tuple[Any, ...]:
        return (sources[0], _Environment(settings_cls, os.environ))  # no .env file, no secrets folder

    @model_validator(mode="before")
    @classmethod
    def _resolve_folders(cls, data: Any) -> Any:
        """Absolute folders: the project's default ones, and relative ones under the project folder."""
        if not isinstance(data, dict):
            return data
        values = {_NAMES.get(k, k): v for k, v in data.items() if v is not None}
        project = values.get("project_dir")
        root = Path(str(project)).expanduser() if project else find_project_dir()
        root = (Path.cwd() / root).resolve()
        values["project_dir"] = root
        for name, default in _UNDER_PROJECT.items():
            given = values.get(name)
            values[name] = (root / (Path(str(given)).expanduser() if given else Path(default))).resolve()
        return values

    @field_validator(*(["project_dir", *_UNDER_PROJECT]))
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; expected a folder (it is created when missing)")
        return value

    @field_validator("comfyui_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if isinstance(value, list | tuple):
            return tuple(check_url(str(u), ("http", "https"), "http://gpu-box:8188").rstrip("/") for u in value)
        return value

    @field_validator("cache_url")
    @classmethod
    def _check_cache_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, sep, rest = value.partition("://")
        if scheme not in ("s3", "s3a") or not sep or not rest.partition("/")[0]:
            raise ValueError("expected s3://bucket/prefix (any S3-compatible store)")
        return value

    @field_validator("mcp_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters long")
        return value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value and value not in BACKEND_KINDS:
            raise ValueError(f"unknown backend '{value}'; known backends: {', '.join(BACKEND_KINDS)}")
        return value or None

    @classmethod
    def for_project(cls, project_dir: Path, **overrides: object) -> Settings:
        """Defaults for a project folder, with explicit overrides by field name (no environment is read)."""
        unknown = sorted(set(overrides) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown setting {unknown}; known: {', '.join(cls.model_fields)}")
        return cls._build({}, {**overrides, "project_dir": project_dir})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables (default ``os.environ``), overridden by explicit values (flags)."""
        unknown = sorted(set(overrides) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown setting {unknown}; known: {', '.join(cls.model_fields)}")
        return cls._build(os.environ if environ is None else environ, overrides)

    @classmethod
    def _build(cls, environ: Mapping[str, str], overrides: Mapping[str, object]) -> Settings:
        given = {k: v for k, v in overrides.items() if v is not None}
        sources = (InitSettingsSource(cls, init_kwargs=given), _Environment(cls, environ))
        try:
            # pydantic-settings' documented way to hand the sources in (the mypy plugin knows only the fields)
            return cls(_build_sources=(sources, given))  # type: ignore[call-arg]
        except ValidationError as exc:
            raise invalid_settings(exc, SETTINGS) from exc

    def environment(self) -> dict[str, str]:
        """Every setting as environment variables: what a child process needs to resolve these same settings
        (secrets excluded: a child inherits them from the environment they came from)."""
        values = {info.env: env_value(getattr(self, info.name)) for info in SETTINGS}
        return {var: value for var, value in values.items() if value is not None}

    def resource_config(self) -> dict[str, Any]:
        """The settings the run's steps read: the Dagster resource's config (``pipeline.defs.resources``)."""
        return {info.name: _config_value(getattr(self, info.name)) for info in SETTINGS if info.resource}

    @property
    def scratch_dir(self) -> Path:
        """Temporary files for atomic replaces: outside the watched Bevy folder (Bevy ignores renames in it)."""
        return self.state_dir / "tmp"


def _config_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


#: every setting, as the CLI, the resource, ``sprites dev`` and the docs see it
SETTINGS: list[SettingInfo] = sorted(  # the project's own settings first, then automation and executor
    describe(Settings),
    key=lambda i: (i.name in AutomationSettings.model_fields) + 2 * (i.name in ExecutorSettings.model_fields),
)
_NAMES = {info.env: info.name for info in SETTINGS}
