"""Asset checks over the existing sprite and manifest assets (the assets themselves are not changed).

Per ``bevy/<name>``: ``matches_spec`` (sheet size and frame count), ``palette`` (colours within the
spec's palette), ``alpha_binary`` and ``file_matches_materialization`` (the file in the Bevy folder
still holds the bytes Dagster last recorded). Per ``bevy/manifest``: ``lists_every_spec`` and
``no_orphan_files``.

All sprite checks are ONE subsettable ``multi_asset_check`` step, not one step per sprite: Dagster's
per-step overhead (~70 ms) would otherwise cost more than the checks. They run after the sprites a run
materializes, and can be run on their own from the UI's Checks tab at any time.
"""

import hashlib
from collections.abc import Collection, Iterator
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from pipeline.assets import MANIFEST_KEY, sprite_keys
from pipeline.automation.verify import (
    Finding,
    alpha_finding,
    file_hash_finding,
    manifest_complete_finding,
    orphan_files_finding,
    palette_finding,
    png_facts,
    size_and_frames_finding,
)
from pipeline.buildstate.lockfile import Lock, read_lock
from pipeline.errors import SpriteError
from pipeline.resources import SpritePipelineResource
from pipeline.settings import Settings
from pipeline.specs import LoadedSpec, SpecSet

__all__ = ["MANIFEST_CHECKS", "SPRITE_CHECKS", "build_asset_checks"]

SPRITE_CHECKS = {
    "matches_spec": "The sheet has the spec's size and frame count (and the manifest entry agrees).",
    "palette": "Every visible pixel uses a colour of the spec's palette, and no more colours than it allows.",
    "alpha_binary": "Alpha is 0 or 255: no half-transparent pixels.",
    "file_matches_materialization": "The PNG in the Bevy folder holds the bytes of its latest materialization.",
}
MANIFEST_CHECKS = {
    "lists_every_spec": "The manifest lists every spec, nothing more, and every listed file holds the listed bytes.",
    "no_orphan_files": "No sprite file in the Bevy folder is missing from the manifest (e.g. of a deleted spec).",
}


def _result(key: AssetCheckKey, finding: Finding, severity: AssetCheckSeverity) -> AssetCheckResult:
    metadata = {k: MetadataValue.json(v) if isinstance(v, list | dict) else v for k, v in finding.metadata.items()}
    return AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=finding.passed,
        severity=severity,
        description=finding.description,
        metadata=metadata,
    )


def _sprite_findings(
    loaded: LoadedSpec, assets_dir: Path, lock: Lock | None, materialized: str | None
) -> dict[str, Finding]:
    spec = loaded.spec
    path = spec.output_path
    try:
        data = (assets_dir / path).read_bytes()
    except OSError:
        missing = Finding(False, f"{path} is missing from the Bevy folder", {"path": path})
        findings = dict.fromkeys(("matches_spec", "palette", "alpha_binary"), missing)
        findings["file_matches_materialization"] = file_hash_finding(path, None, materialized)
        return findings
    try:
        facts = png_facts(data)
    except ValueError as exc:
        unreadable = Finding(False, f"{path}: {exc}", {"path": path})
        findings = dict.fromkeys(("matches_spec", "palette", "alpha_binary"), unreadable)
    else:
        findings = {
            "matches_spec": size_and_frames_finding(spec, facts, lock.sprites.get(spec.name) if lock else None),
            "palette": palette_finding(spec, facts),
            "alpha_binary": alpha_finding(facts),
        }
    findings["file_matches_materialization"] = file_hash_finding(path, hashlib.sha256(data).hexdigest(), materialized)
    return findings


def _lock_or_none(settings: Settings) -> Lock | None:
    try:
        return read_lock(settings)
    except SpriteError:
        return None  # unreadable or old: the checks still judge the files themselves


def _materialized_sha(event: object) -> str | None:
    mat = getattr(event, "asset_materialization", None)
    value = mat.metadata.get("sha256") if mat is not None else None
    return str(getattr(value, "value", value)) if value is not None else None


def build_asset_checks(spec_set: SpecSet, only: Collection[str] | None = None) -> list[AssetChecksDefinition]:
    """The sprite checks (for ``only`` these sprites, when given) and the manifest checks (over every spec)."""
    names = list(spec_set.specs)
    checked = [n for n in names if only is None or n in only]
    defs: list[AssetChecksDefinition] = []
    if checked:
        sprite_specs = [
            AssetCheckSpec(check, asset=sprite_keys(name)[2], description=text)
            for name in checked
            for check, text in SPRITE_CHECKS.items()
        ]
        by_bevy_key = {sprite_keys(name)[2]: spec_set.specs[name] for name in checked}

        @multi_asset_check(specs=sprite_specs, can_subset=True, name="sprite_checks")
        def sprite_checks(
            context: AssetCheckExecutionContext, sprites: SpritePipelineResource
        ) -> Iterator[AssetCheckResult]:
            settings = sprites.settings
            selected = context.selected_asset_check_keys
            keys = sorted({k.asset_key for k in selected}, key=lambda k: k.to_user_string())
            latest = context.instance.get_latest_materialization_events(keys)
            lock = _lock_or_none(settings)
            for asset_key in keys:
                loaded = by_bevy_key[asset_key]
                findings = _sprite_findings(loaded, settings.assets_dir, lock, _materialized_sha(latest.get(asset_key)))
                for check, finding in findings.items():
                    key = AssetCheckKey(asset_key, check)
                    if key in selected:
                        yield _result(key, finding, AssetCheckSeverity.ERROR)

        defs.append(sprite_checks)

    @multi_asset_check(
        specs=[AssetCheckSpec(check, asset=MANIFEST_KEY, description=text) for check, text in MANIFEST_CHECKS.items()],
        can_subset=True,
        name="manifest_checks",
    )
    def manifest_checks(
        context: AssetCheckExecutionContext, sprites: SpritePipelineResource
    ) -> Iterator[AssetCheckResult]:
        settings = sprites.settings
        selected = context.selected_asset_check_keys
        complete = AssetCheckKey(MANIFEST_KEY, "lists_every_spec")
        orphans = AssetCheckKey(MANIFEST_KEY, "no_orphan_files")
        if complete in selected:
            yield _result(complete, manifest_complete_finding(settings.assets_dir, names), AssetCheckSeverity.ERROR)
        if orphans in selected:
            finding = orphan_files_finding(settings.assets_dir, _lock_or_none(settings), names)
            yield _result(orphans, finding, AssetCheckSeverity.WARN)

    defs.append(manifest_checks)
    return defs
