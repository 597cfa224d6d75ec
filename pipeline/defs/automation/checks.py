"""Asset checks, evaluated inside the steps that produce the assets, so no materialization goes unchecked.

Per ``<name>/<name>_bevy``: ``bevy_file_valid``: the PNG in the Bevy folder has the spec's size and frame count
(and its manifest entry agrees), uses only the spec's palette, has binary alpha, and holds the bytes of
its latest materialization. Per ``bevy/manifest``: ``matches_lock`` (manifest.json and .assets.ron are
exactly what sprites.lock renders to: ``pipeline.state.status``) and ``no_orphan_files``.

Why inside the steps, and why one check per sprite: a check that did not run for the latest
materialization shows in Dagster 1.13's asset graph as a green "0 / N Passed", so every build, the
CLI's included, must evaluate them; each check costs two events (planned, evaluated), and Dagster's
per-event cost on SQLite is what dominates a sprite's build, so the four verifications are one check
with a finding each in its metadata. A check can still be executed on its own from the UI's Checks
tab: the step then only reads the files (``evaluate_sprite`` with the latest materialization's hash).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    MetadataValue,
)

from pipeline.core.specs import LoadedSpec, SpecSet
from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_keys
from pipeline.defs.automation.verify import (
    Finding,
    alpha_finding,
    file_hash_finding,
    orphan_files_finding,
    palette_finding,
    png_facts,
    size_and_frames_finding,
)
from pipeline.errors import SpriteError
from pipeline.settings import Settings
from pipeline.state.lockfile import Lock, LockEntry, read_lock
from pipeline.state.status import project_state

__all__ = [
    "MANIFEST_CHECKS",
    "SPRITE_CHECK",
    "SPRITE_CHECKS",
    "evaluate_manifest",
    "evaluate_sprite",
    "latest_materialized_sha",
    "manifest_check_specs",
    "manifest_evaluations",
    "sprite_check_spec",
]

SPRITE_CHECK = "bevy_file_valid"
#: the verifications one sprite check makes, by the metadata prefix of their findings
SPRITE_CHECKS = {
    "matches_spec": "The sheet has the spec's size and frame count (and the manifest entry agrees).",
    "palette": "Every visible pixel uses a colour of the spec's palette, and no more colours than it allows.",
    "alpha_binary": "Alpha is 0 or 255: no half-transparent pixels.",
    "file_matches_materialization": "The PNG in the Bevy folder holds the bytes of its latest materialization.",
}
MANIFEST_CHECKS = {
    "matches_lock": "manifest.json and sprites.assets.ron are exactly what sprites.lock renders to.",
    "no_orphan_files": "No sprite file in the Bevy folder is missing from the manifest (e.g. of a deleted spec).",
}
_SEVERITY = {"matches_lock": AssetCheckSeverity.ERROR, "no_orphan_files": AssetCheckSeverity.WARN}


def sprite_check_spec(name: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        SPRITE_CHECK,
        asset=sprite_keys(name)[2],
        description="The PNG in the Bevy folder: " + " ".join(SPRITE_CHECKS.values()),
    )


def manifest_check_specs() -> list[AssetCheckSpec]:
    return [AssetCheckSpec(check, asset=MANIFEST_KEY, description=text) for check, text in MANIFEST_CHECKS.items()]


def _sprite_findings(
    loaded: LoadedSpec, assets_dir: Path, record: LockEntry | None, materialized: str | None
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
            "matches_spec": size_and_frames_finding(spec, facts, record),
            "palette": palette_finding(spec, facts),
            "alpha_binary": alpha_finding(facts),
        }
    findings["file_matches_materialization"] = file_hash_finding(path, hashlib.sha256(data).hexdigest(), materialized)
    return findings


def _metadata(findings: dict[str, Finding]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part, finding in findings.items():
        out[part] = ("ok: " if finding.passed else "FAILED: ") + finding.description
        for k, v in finding.metadata.items():
            out[f"{part}/{k}"] = MetadataValue.json(v) if isinstance(v, list | dict) else v
    return out


def evaluate_sprite(
    loaded: LoadedSpec, settings: Settings, record: LockEntry | None, materialized: str | None
) -> AssetCheckResult:
    """The sprite check on the files as they are now; ``materialized``: the sha256 the latest (or the
    current) materialization recorded; ``record``: the sprite's lock entry (None: read sprites.lock)."""
    if record is None:
        lock = _lock_or_none(settings)
        record = lock.sprites.get(loaded.name) if lock else None
    findings = _sprite_findings(loaded, settings.assets_dir, record, materialized)
    failed = [f"{part}: {f.description}" for part, f in findings.items() if not f.passed]
    return AssetCheckResult(
        asset_key=sprite_keys(loaded.name)[2],
        check_name=SPRITE_CHECK,
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(failed) if failed else "size, frames, palette, alpha and file bytes as expected",
        metadata=_metadata(findings),
    )


def _lock_or_none(settings: Settings) -> Lock | None:
    try:
        return read_lock(settings)
    except SpriteError:
        return None  # unreadable or old: the checks still judge the files themselves


def latest_materialized_sha(instance: DagsterInstance, key: AssetKey) -> str | None:
    """The ``sha256`` metadata of ``key``'s latest materialization."""
    event = instance.get_latest_materialization_event(key)
    mat = event.asset_materialization if event is not None else None
    value = mat.metadata.get("sha256") if mat is not None else None
    return str(getattr(value, "value", value)) if value is not None else None


def _manifest_findings(settings: Settings, spec_set: SpecSet) -> dict[str, Finding]:
    lock = _lock_or_none(settings)
    state = project_state(settings, spec_set, {}, lock, names=[])
    if lock is None:
        matches = Finding(False, "sprites.lock is missing, unreadable or of an older version: build the sprites")
    elif state.unpublished:
        matches = Finding(False, "; ".join(state.unpublished), {"problems": state.unpublished})
    else:
        matches = Finding(True, f"lists the {len(lock.sprites)} sprites of sprites.lock, byte for byte", {})
    names = [*spec_set.specs, *(lock.sprites if lock else {})]  # an invalid spec's sprite is not an orphan
    return {"matches_lock": matches, "no_orphan_files": orphan_files_finding(settings.assets_dir, lock, names)}


def evaluate_manifest(
    settings: Settings, spec_set: SpecSet, selected: set[str] | None = None
) -> list[AssetCheckResult]:
    """The manifest checks (``selected`` names, default all) on the Bevy folder and sprites.lock as they are."""
    out = []
    for check, finding in _manifest_findings(settings, spec_set).items():
        if selected is None or check in selected:
            meta = {k: MetadataValue.json(v) if isinstance(v, list | dict) else v for k, v in finding.metadata.items()}
            out.append(
                AssetCheckResult(
                    asset_key=MANIFEST_KEY,
                    check_name=check,
                    passed=finding.passed,
                    severity=_SEVERITY[check],
                    description=finding.description,
                    metadata=meta,
                )
            )
    return out


def manifest_evaluations(settings: Settings, spec_set: SpecSet) -> list[AssetCheckEvaluation]:
    """The manifest checks as runless evaluations (after a publish outside the manifest step)."""
    return [
        AssetCheckEvaluation(
            asset_key=MANIFEST_KEY,
            check_name=r.check_name or "",
            passed=r.passed,
            severity=r.severity,
            description=r.description,
            metadata=r.metadata,
        )
        for r in evaluate_manifest(settings, spec_set)
    ]


def check_keys(names: list[str]) -> set[AssetCheckKey]:
    """Every check key of these sprites and of the manifest."""
    return {AssetCheckKey(sprite_keys(n)[2], SPRITE_CHECK) for n in names} | {
        AssetCheckKey(MANIFEST_KEY, c) for c in MANIFEST_CHECKS
    }
