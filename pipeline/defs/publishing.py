"""After a run whose manifest step did not run: publish what it exported (one rule, two callers).

A sprite that failed (or a run that was stopped) makes Dagster skip the ``bevy/manifest`` step, yet the
sprites the run did export must reach sprites.lock, manifest.json and .assets.ron. ``run_sprites`` applies
this when an in-process run ends; the failure sensor applies it to runs executed elsewhere (the webserver's
run queue, Celery workers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.specs import SpecSet
from pipeline.settings import Settings
from pipeline.state.publish import PublishResult, pending_entries, publish_run

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["publish_after_run"]


def publish_after_run(
    instance: DagsterInstance, settings: Settings, run_id: str, spec_set: SpecSet, *, manifest_wanted: bool
) -> PublishResult | None:
    """Publish run ``run_id``'s exports when its manifest step did not (None: nothing to do).

    The publish is recorded as a ``bevy/manifest`` materialization with its checks, so that the UI shows the
    manifest as it is rather than as the run whose manifest step was skipped.
    """
    from pipeline.defs.asset_keys import MANIFEST_KEY
    from pipeline.defs.assets import record_manifest

    latest = instance.get_latest_materialization_event(MANIFEST_KEY)
    manifest_done = latest is not None and latest.run_id == run_id
    if not pending_entries(settings, run_id) and (manifest_done or not manifest_wanted):
        return None
    published = publish_run(settings, run_id)
    record_manifest(instance, settings, spec_set, published)
    return published
