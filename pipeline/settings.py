"""Where things live: the project's folders and servers, typed, with defaults that work in a fresh clone.

Every setting can come from an environment variable (listed in the README) or be passed explicitly;
``Settings.from_env()`` is called by the entry points (CLI, ``definitions.py``, MCP server), never at
import time of a library module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError

__all__ = ["ENV_VARS", "Settings", "find_project_dir", "invalid_settings"]

#: environment variable -> (settings field, what it does); the README's configuration table.
ENV_VARS: dict[str, tuple[str, str]] = {
    "SPRITES_PROJECT_DIR": (
        "project_dir",
        "project root (holds sprite_specs/); default: nearest parent of the working directory with sprite_specs/",
    ),
    "SPRITES_SPECS_DIR": ("specs_dir", "sprite spec YAML folder; default <project>/sprite_specs"),
    "SPRITES_WORKFLOWS_DIR": ("workflows_dir", "ComfyUI workflow templates; default <project>/comfy_workflows"),
    "SPRITES_ASSETS_DIR": ("assets_dir", "the Bevy assets folder written into; default <project>/bevy_target/assets"),
    "SPRITES_CACHE_DIR": (
        "cache_dir",
        "content-addressed cache (shareable between machines); default <project>/.sprites/cache",
    ),
    "SPRITES_CACHE_URL": (
        "cache_url",
        "remote cache tier behind the local one: s3://bucket/prefix (AWS_* variables: endpoint, region, keys)",
    ),
    "SPRITES_STATE_DIR": (
        "state_dir",
        "per-machine state, a cache that may be deleted at any time (fast-path record, entries of running "
        "builds, scratch files for atomic writes); default <project>/.sprites/state",
    ),
    "SPRITES_COMFYUI_URL": ("comfyui_urls", "ComfyUI server URL, or several separated by commas or spaces"),
    "SPRITES_COMFYUI_MAX_INFLIGHT": ("comfyui_max_inflight", "jobs per ComfyUI server at once: running + waiting (2)"),
    "SPRITES_COMFYUI_JOB_TIMEOUT": ("comfyui_job_timeout", "seconds before a still-running job is interrupted (1800)"),
    "SPRITES_COMFYUI_FAILOVER_AFTER": (
        "comfyui_failover_after",
        "seconds unreachable before a server's jobs move (30)",
    ),
    "SPRITES_BACKEND": ("backend", "generate every sprite on this backend (procedural|comfyui), overriding the specs"),
    "SPRITES_MCP_TOKEN": ("", "bearer token for `sprites mcp --http` (read by the MCP server only)"),
    "SPRITES_DAGSTER_URL": ("", "webserver the MCP server launches runs through; `off` for in-process"),
    "DAGSTER_HOME": ("dagster_home", "Dagster instance folder; default <project>/dagster_home (ships a dagster.yaml)"),
}


def invalid_settings(exc: ValidationError, env_vars: Mapping[str, tuple[str, str]], what: str) -> ConfigError:
    """A settings validation error as a ConfigError naming each environment variable, its problem and value."""
    by_field = {field: var for var, (field, _) in env_vars.items() if field}
    problems = "; ".join(
        f"{by_field.get(str(e['loc'][0]) if e['loc'] else '', str(e['loc'][0]) if e['loc'] else what)}: "
        f"{e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})"
        for e in exc.errors()
    )
    return ConfigError(f"invalid {what}: {problems}")


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) with ``sprite_specs/``.

    Falls back to the checkout this package lives in, so ``dagster dev`` started anywhere in the repo works.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "sprite_specs").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    """Resolved, absolute folders and servers for one pipeline."""

    model_config = ConfigDict(frozen=True)

    project_dir: Path
    specs_dir: Path
    workflows_dir: Path
    assets_dir: Path
    cache_dir: Path
    state_dir: Path
    dagster_home: Path
    comfyui_urls: tuple[str, ...] = ()
    comfyui_max_inflight: int = Field(default=2, ge=1, le=64)
    comfyui_job_timeout: float = Field(default=1800.0, gt=0)
    comfyui_failover_after: float = Field(default=30.0, gt=0)
    backend: str | None = None
    cache_url: str | None = None

    @field_validator("cache_url")
    @classmethod
    def _check_cache_url(cls, value: str | None) -> str | None:
        if value:
            from pipeline.cache_remote import parse_cache_url

            parse_cache_url(value)  # ConfigError naming SPRITES_CACHE_URL
        return value or None

    @field_validator("comfyui_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(u.rstrip("/") for u in value.replace(",", " ").split() if u)
        return value

    @classmethod
    def for_project(cls, project_dir: Path, **overrides: object) -> Settings:
        """Defaults for a project folder, with explicit overrides (paths relative to the project)."""
        root = Path(project_dir).resolve()
        values: dict[str, object] = {
            "project_dir": root,
            "specs_dir": root / "sprite_specs",
            "workflows_dir": root / "comfy_workflows",
            "assets_dir": root / "bevy_target" / "assets",
            "cache_dir": root / ".sprites" / "cache",
            "state_dir": root / ".sprites" / "state",
            "dagster_home": root / "dagster_home",
        }
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in cls.model_fields:
                raise ConfigError(f"unknown setting '{key}'")
            if cls.model_fields[key].annotation is Path:
                value = (root / Path(str(value)).expanduser()).resolve()
            values[key] = value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise invalid_settings(exc, ENV_VARS, "setting") from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables (see ``ENV_VARS``), then explicit overrides."""
        env = os.environ if environ is None else environ
        from_env: dict[str, object] = {
            field: env[var] for var, (field, _) in ENV_VARS.items() if field and env.get(var)
        }
        from_env.update({k: v for k, v in overrides.items() if v is not None})
        project = from_env.pop("project_dir", None)
        project_dir = Path(str(project)).expanduser() if project else find_project_dir()
        return cls.for_project(project_dir, **from_env)

    @property
    def scratch_dir(self) -> Path:
        """Temporary files for atomic replaces: outside the watched Bevy folder (Bevy ignores renames in it)."""
        return self.state_dir / "tmp"
