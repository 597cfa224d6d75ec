"""Recording the no-op fast path after a build (the check itself, ``inputs.noop_for``, needs only the stdlib)."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.core.export.manifest import ASSETS_RON_PATH, MANIFEST_PATH
from pipeline.core.generate.base import GenerationRequest
from pipeline.core.specs import SpecSet
from pipeline.settings import Settings
from pipeline.state import inputs
from pipeline.state.lockfile import lock_path, read_lock
from pipeline.state.status import ProjectState, project_state

__all__ = ["remember_if_current"]


def remember_if_current(
    settings: Settings,
    spec_set: SpecSet,
    requests: Mapping[str, GenerationRequest],
    snapshot: Mapping[str, str],
    known: ProjectState | None = None,
) -> ProjectState:
    """If the whole project is current now, record the inputs *as the build read them* (``snapshot``,
    from ``inputs.hash_tree`` before the specs were loaded, plus the requests' input files): an edit made
    during the build then differs from the record, and the next build sees it. Returns the state.
    ``known``: the state before the build (see ``project_state``), so only what moved is looked at again."""
    state = project_state(settings, spec_set, requests, read_lock(settings), known=known)
    if not state.current:
        inputs.invalidate(settings.state_dir)
        return state
    outputs = [settings.assets_dir / MANIFEST_PATH, settings.assets_dir / ASSETS_RON_PATH, lock_path(settings)]
    for st in state.sprites.values():
        png = settings.assets_dir / st.loaded.spec.output_path
        outputs += [png, png.with_name(png.name + ".meta")]
    files = {path: sha for request in requests.values() for path, sha in request.input_files.items()}
    recorded = {**snapshot, **{inputs.FILES + path: sha for path, sha in files.items()}}
    inputs.save(settings.state_dir, inputs.context_of(settings), recorded, outputs, len(state.sprites))
    return state
