"""The build service: the one core the ``sprites`` CLI, the MCP server and the automation call.

    build.py       BuildService: select, plan, launch (webserver queue or in-process), follow, cancel, publish
    selection.py   names / globs / category -> sprites           plan.py     what is stale, what to publish
    runs.py        a run's handle and its lifecycle (state machine)
    webserver.py   a running Dagster webserver, over GraphQL     instance.py  the Dagster instance, cancel records
    publishing.py  publishing what a run exported when its manifest step did not run

Only ``instance.py`` and ``publishing.py`` import Dagster (lazily); nothing in the interface is a Dagster type.
"""

from pipeline.service.build import BuildService
from pipeline.service.plan import Plan, plan_build
from pipeline.service.runs import CancelOutcome, Run, RunState
from pipeline.service.selection import NoSuchSprite, UnknownCategory, select

__all__ = [
    "BuildService",
    "CancelOutcome",
    "NoSuchSprite",
    "Plan",
    "Run",
    "RunState",
    "UnknownCategory",
    "plan_build",
    "select",
]
