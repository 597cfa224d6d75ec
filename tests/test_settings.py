"""Every setting is accepted, and refused, identically by the CLI, the environment and the resource config.

The CLI face is the real ``sprites dev`` (which takes every flag): its ``dagster dev`` child is replaced by a
Python process that writes down the environment it was given, so the test also checks that every setting
reaches the subprocess. The resource face is the code location's ``sprites`` resource, configured with the
value; one case goes through a real Dagster run's resource config.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dagster import asset, materialize
from pydantic import SecretStr

from pipeline.core.interrupts import run_child_group
from pipeline.defs.resources import SpritePipelineResource, resource_config_class
from pipeline.errors import ConfigError
from pipeline.faces.cli import main
from pipeline.settings import SETTINGS, Settings
from pipeline.settings.docs import update_readme
from tests.conftest import REPO

BY_NAME = {info.name: info for info in SETTINGS}
_RUN_CHILD_GROUP = run_child_group


@dataclass(frozen=True)
class Case:
    valid: str
    expected: Any  # the parsed value; a Path relative to the project (or, for project_dir, to the working dir)
    invalid: str
    message: str  # part of the one error, whichever face the invalid value came through
    context: dict[str, str] = field(default_factory=dict)  # other settings the valid value needs

    def resource_value(self, name: str, text: str) -> Any:
        """The value as a resource's (YAML) run config holds it."""
        return [u.strip() for u in text.split(",")] if name == "comfyui_urls" else text


CASES: dict[str, Case] = {
    "project_dir": Case("other", Path("other"), "a_file", "is a file; expected a folder"),
    "specs_dir": Case("specs2", Path("specs2"), "a_file", "is a file; expected a folder"),
    "workflows_dir": Case("wf", Path("wf"), "a_file", "is a file; expected a folder"),
    "assets_dir": Case("out/assets", Path("out/assets"), "a_file", "is a file; expected a folder"),
    "cache_dir": Case("/tmp/shared-cache", Path("/tmp/shared-cache"), "a_file", "is a file; expected a folder"),
    "cache_url": Case("s3://bucket/team", "s3://bucket/team", "http://host/bucket", "expected s3://bucket/prefix"),
    "state_dir": Case("st", Path("st"), "a_file", "is a file; expected a folder"),
    "dagster_home": Case("dh", Path("dh"), "a_file", "is a file; expected a folder"),
    "comfyui_urls": Case(
        "http://gpu-1:8188/, http://gpu-2:8188",
        ("http://gpu-1:8188", "http://gpu-2:8188"),
        "gpu-1:8188",
        "expected an http/https URL such as http://gpu-box:8188 (got 'gpu-1:8188')",
    ),
    "comfyui_max_inflight": Case("4", 4, "0", "greater than or equal to 1 (got '0')"),
    "comfyui_job_timeout": Case("90", 90.0, "-1", "greater than 0 (got '-1')"),
    "comfyui_failover_after": Case("5", 5.0, "0", "greater than 0 (got '0')"),
    "backend": Case("comfyui", "comfyui", "dalle", "unknown backend 'dalle'; known backends: procedural, comfyui"),
    "mcp_token": Case("t" * 24, "t" * 24, "short", "must be at least 16 characters long"),
    "executor": Case(
        "celery", "celery", "kubernetes", "'in_process' or 'celery'", {"celery_broker": "redis://h:6379/0"}
    ),
    "celery_broker": Case("redis://h:6379/0", "redis://h:6379/0", "h:6379", "expected a broker URL"),
    "celery_backend": Case("redis://h:6379/1", "redis://h:6379/1", "nowhere", "expected a broker URL"),
    "enabled": Case(
        "sensor, conditions", frozenset({"sensor", "conditions"}), "nightly", "unknown automation ['nightly']"
    ),
    "schedule_cron": Case("30 2 * * 1", "30 2 * * 1", "every night", "'every night' is not a valid cron expression"),
    "schedule_timezone": Case("Europe/Berlin", "Europe/Berlin", "Mars/Base", "not an IANA time zone"),
    "sensor_interval_seconds": Case("60", 60, "0", "greater than or equal to 1 (got '0')"),
    "dagster_url": Case(
        "http://127.0.0.1:3999/", "http://127.0.0.1:3999", "false", "or 'off' (no webserver) (got 'false')"
    ),
    "code_location": Case("sprites_2", "sprites_2", "my location", "should match pattern"),
}


def test_every_setting_has_a_case() -> None:
    """A new setting fails here until it has a valid and an invalid value below (and so gets tested)."""
    assert set(CASES) == set(BY_NAME)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the working directory, with no setting in the environment."""
    for info in SETTINGS:
        monkeypatch.delenv(info.env, raising=False)
    root = tmp_path / "game"
    (root / "sprite_specs").mkdir(parents=True)
    (root / "a_file").write_text("not a folder")
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.chdir(root)
    return root


def _expected(name: str, case: Case, root: Path) -> Any:
    if isinstance(case.expected, Path):
        return (root / case.expected).resolve()
    return case.expected


def _value(settings: Settings, name: str) -> Any:
    value = getattr(settings, name)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _from_env(name: str, text: str, context: dict[str, str]) -> Settings:
    env = {BY_NAME[k].env: v for k, v in {**context, name: text}.items()}
    return Settings.from_env(env)


def _from_cli(
    name: str, text: str, context: dict[str, str], tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, dict[str, str]]:
    """`sprites dev --flag text`: (exit code, stderr, the environment its child process received)."""
    import pipeline.core.interrupts

    seen = tmp / "child-env.json"
    seen.unlink(missing_ok=True)
    real = _RUN_CHILD_GROUP

    def record_env(cmd: list[str], **kwargs: Any) -> tuple[int, int | None]:
        assert cmd[1:4] == ["-m", "dagster", "dev"]
        dump = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
        return real([sys.executable, "-c", dump, str(seen)], **kwargs)

    monkeypatch.setattr(pipeline.core.interrupts, "run_child_group", record_env)
    args = [arg for k, v in {**context, name: text}.items() for arg in (str(BY_NAME[k].flag), v)]
    result = CliRunner().invoke(main, ["dev", "--port", "3999", *args])
    child = json.loads(seen.read_text()) if seen.exists() else {}
    return result.exit_code, result.stderr, child


def _from_resource(name: str, value: Any, root: Path) -> Settings:
    config = {} if name == "project_dir" else {"project_dir": str(root)}
    return resource_config_class()(**{**config, name: value}).settings


@pytest.mark.parametrize("name", list(CASES))
def test_a_setting_is_accepted_identically_by_env_cli_and_resource(
    name: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, info = CASES[name], BY_NAME[name]
    expected = _expected(name, case, project)
    assert _value(_from_env(name, case.valid, case.context), name) == expected
    if info.flag is None:
        assert info.secret  # only a secret has no flag (a command line is visible to every user)
    else:
        code, stderr, child = _from_cli(name, case.valid, case.context, tmp_path, monkeypatch)
        assert code == 0, stderr
        assert info.env in child  # given on the command line: handed to `dagster dev`
        assert _value(Settings.from_env(child), name) == expected
    if info.resource:
        assert _value(_from_resource(name, case.resource_value(name, case.valid), project), name) == expected
    else:
        assert name not in resource_config_class().model_fields


@pytest.mark.parametrize("name", list(CASES))
def test_an_invalid_setting_is_one_error_naming_it_from_env_cli_and_resource(
    name: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, info = CASES[name], BY_NAME[name]
    with pytest.raises(ConfigError) as from_env:
        _from_env(name, case.invalid, {})
    message = str(from_env.value)
    assert message.startswith(f"invalid setting: {info.env}") and case.message in message
    if info.flag is not None:
        assert f"({info.flag}" in message
        code, stderr, child = _from_cli(name, case.invalid, {}, tmp_path, monkeypatch)
        assert (code, child) == (1, {})  # refused before `dagster dev` starts
        assert stderr == f"error: {message}\n"  # the same words, and no traceback
    if info.resource:
        assert f"resource config {name}" in message
        with pytest.raises(ConfigError) as from_resource:
            _from_resource(name, case.resource_value(name, case.invalid), project)
        assert str(from_resource.value) == message
    if info.secret:
        assert case.invalid not in message  # a secret is never echoed


def test_a_secret_is_never_handed_on_as_text(project: Path) -> None:
    settings = Settings.from_env({"SPRITES_MCP_TOKEN": "t" * 24})
    assert "SPRITES_MCP_TOKEN" not in settings.environment()
    assert "t" * 24 not in repr(settings)


def test_the_environment_of_settings_resolves_to_the_same_settings(project: Path) -> None:
    """What `sprites dev` hands on: every setting, so the child resolves exactly what the parent did."""
    given = {
        name: case.valid for name, case in CASES.items() if name not in ("project_dir", "mcp_token", "celery_backend")
    }
    settings = Settings.from_env({BY_NAME[k].env: v for k, v in given.items()})
    assert Settings.from_env(settings.environment()) == settings
    assert Settings.from_env(Settings.from_env({}).environment()) == Settings.from_env({})


def test_sprites_dev_names_its_own_webserver_unless_told_otherwise(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, child = _from_cli("backend", "procedural", {}, tmp_path, monkeypatch)
    assert code == 0 and child["SPRITES_DAGSTER_URL"] == "http://127.0.0.1:3999"
    assert child["SPRITES_BACKEND"] == "procedural"  # was dropped before: only four variables were passed
    code, _, child = _from_cli("dagster_url", "off", {}, tmp_path, monkeypatch)
    assert code == 0 and child["SPRITES_DAGSTER_URL"] == "off"


def test_flags_win_over_the_environment(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPRITES_COMFYUI_JOB_TIMEOUT", "-1")  # invalid, but overridden by the flag
    monkeypatch.setenv("SPRITES_SENSOR_INTERVAL", "45")
    code, stderr, child = _from_cli("comfyui_job_timeout", "60", {}, tmp_path, monkeypatch)
    assert code == 0, stderr
    assert (child["SPRITES_COMFYUI_JOB_TIMEOUT"], child["SPRITES_SENSOR_INTERVAL"]) == ("60.0", "45")


def test_the_resource_config_holds_exactly_the_settings_the_steps_read(project: Path) -> None:
    fields = set(resource_config_class().model_fields) - {"offline", "submit_run_up_front"}
    assert fields == {info.name for info in SETTINGS if info.resource}
    settings = Settings.for_project(project, comfyui_urls="http://a:1", comfyui_job_timeout=5)
    assert SpritePipelineResource.from_settings(settings).settings == settings


@asset
def _reads_settings(context, sprites: SpritePipelineResource) -> None:  # type: ignore[no-untyped-def]
    context.add_output_metadata({"timeout": sprites.settings.comfyui_job_timeout})


def test_a_runs_resource_config_is_validated_by_the_settings_model(project: Path) -> None:
    """Through a real run: the launchpad's resource config, good and bad."""
    resource = SpritePipelineResource.from_settings(Settings.for_project(project))

    def run(timeout: float) -> Any:
        config = {"resources": {"sprites": {"config": {"comfyui_job_timeout": timeout}}}}
        return materialize([_reads_settings], resources={"sprites": resource}, run_config=config, raise_on_error=False)

    good = run(42)
    assert good.success
    [mat] = good.asset_materializations_for_node("_reads_settings")
    assert mat.metadata["timeout"].value == 42.0
    bad = run(-3)
    assert not bad.success
    failure = next(e for e in bad.all_events if e.is_failure)
    with pytest.raises(ConfigError) as same:
        _from_env("comfyui_job_timeout", "-3", {})
    assert str(same.value) in str(failure.event_specific_data)


def test_the_readme_table_is_generated_from_the_model() -> None:
    assert update_readme(REPO / "README.md", write=False), "run `python -m pipeline.settings.docs --write`"


def test_settings_for_a_project_read_no_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPRITES_BACKEND", "dalle")  # would be refused if read
    assert Settings.for_project(project).backend is None
    with pytest.raises(ConfigError, match="SPRITES_BACKEND"):
        Settings.from_env()


def test_reading_the_settings_imports_no_dagster(project: Path) -> None:
    """Every CLI command reads them first: the no-op build must not pay for importing Dagster."""
    import subprocess

    code = "import sys; from pipeline.settings import Settings; Settings.from_env(); print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"
