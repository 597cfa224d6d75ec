"""What a build must do: the sprites that are not current (``pipeline.state.status``'s verdict, the
one every face shares) and whether the manifest and .assets.ron need publishing (no Dagster import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.core.generate import GenerationRequest, resolve_requests
from pipeline.core.specs import SpecSet
from pipeline.settings import Settings
from pipeline.state.lockfile import OldLockError, read_lock
from pipeline.state.status import ProjectState, SpriteState, project_state

__all__ = ["Plan", "plan_build"]


@dataclass(frozen=True)
class Plan:
    """``project``: the state of the chosen sprites; ``todo``: the ones to build (all of them when forced)."""

    project: ProjectState
    todo: list[SpriteState]

    @property
    def names(self) -> list[str]:
        return [st.name for st in self.todo]

    @property
    def fresh(self) -> list[str]:
        """Chosen sprites that are up to date and not rebuilt."""
        todo = set(self.names)
        return [n for n in self.project.sprites if n not in todo]

    @property
    def published(self) -> bool:
        """Whether manifest.json and .assets.ron are what sprites.lock renders."""
        return self.project.published

    @property
    def nothing_to_do(self) -> bool:
        return not self.todo and self.published


def plan_build(
    settings: Settings,
    spec_set: SpecSet,
    names: list[str] | None = None,
    *,
    force: bool = False,
    requests: Mapping[str, GenerationRequest] | None = None,
    old_lock_ok: bool = True,
) -> Plan:
    """The plan for ``names`` (every sprite when None).

    A lockfile written by an older version counts as empty when ``old_lock_ok`` (every sprite reads as never
    built, and the build rewrites the lock); otherwise it is the ``OldLockError`` telling how to upgrade.
    """
    try:
        lock = read_lock(settings)
    except OldLockError:
        if not old_lock_ok:
            raise
        lock = None
    requests = requests if requests is not None else resolve_requests(spec_set, settings, names)
    project = project_state(settings, spec_set, requests, lock, names)
    todo = [st for st in project.sprites.values() if force or not st.current]
    return Plan(project, todo)
