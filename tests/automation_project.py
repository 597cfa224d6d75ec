"""A small temporary sprite project for the automation tests, and ways to build it through Dagster."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance, Definitions

from pipeline.defs.assets import MANIFEST_KEY, sprite_keys
from pipeline.defs.automation import AutomationSettings
from pipeline.defs.location import build_definitions
from pipeline.settings import Settings

ITEMS_YAML = """\
# two sprites in one file
defaults:
  category: item
  size: 16x16
sprites:
  - name: gem
    prompt: "blue crystal gem"
  - name: coin
    prompt: "golden coin"
    palette: nes
"""

SLIME_YAML = """\
name: slime
category: enemy
prompt: "green slime"
size: 16x16
animation:
  frames: 2
"""

BAT_YAML = """\
name: bat
category: enemy
prompt: "purple bat"
size: 16x16
"""


def make_project(root: Path) -> Settings:
    """gem + coin (items.yaml), slime (slime.yaml, two frames), an empty workflows folder."""
    specs = root / "sprite_specs"
    specs.mkdir(parents=True)
    (specs / "items.yaml").write_text(ITEMS_YAML)
    (specs / "slime.yaml").write_text(SLIME_YAML)
    (root / "comfy_workflows").mkdir()
    return Settings.for_project(root)


def project_env(settings: Settings) -> dict[str, str]:
    """The environment that points the code location at this project."""
    return {
        "SPRITES_PROJECT_DIR": str(settings.project_dir),
        "SPRITES_SPECS_DIR": str(settings.specs_dir),
        "SPRITES_WORKFLOWS_DIR": str(settings.workflows_dir),
        "SPRITES_ASSETS_DIR": str(settings.assets_dir),
        "SPRITES_CACHE_DIR": str(settings.cache_dir),
        "SPRITES_STATE_DIR": str(settings.state_dir),
    }


def load_defs(settings: Settings, **automation: Any) -> Definitions:
    """The code location as ``dagster dev`` would load it now (a reload = calling this again)."""
    return build_definitions(settings, automation=AutomationSettings(**automation))


def keys_of(*names: str, manifest: bool = True) -> set[AssetKey]:
    return {k for n in names for k in sprite_keys(n)} | ({MANIFEST_KEY} if manifest else set())


def materialize(defs: Definitions, instance: DagsterInstance, keys: Iterable[AssetKey]) -> str:
    """Materialize ``keys`` (with their checks) in-process against ``instance``; fail loudly. Returns the run id."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=list(keys), raise_on_error=True)
    assert result.success
    return result.run_id


def run_checks(
    defs: Definitions, instance: DagsterInstance, checks: Iterable[AssetCheckKey]
) -> dict[AssetCheckKey, Any]:
    """Execute only the given asset checks; their evaluations by key."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection=set(checks)
    )
    result = job.execute_in_process(instance=instance, raise_on_error=True)
    return evaluations(instance, result.run_id)


def evaluations(instance: DagsterInstance, run_id: str) -> dict[AssetCheckKey, Any]:
    out = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        data = record.dagster_event.event_specific_data  # type: ignore[union-attr]
        out[AssetCheckKey(data.asset_key, data.check_name)] = data
    return out
