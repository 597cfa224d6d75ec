"""The build service: the one core the ``sprites`` CLI, the MCP server and the automation call.

    build.py       BuildService: select, plan, launch (webserver queue or in-process), follow, cancel, publish
    selection.py   names / globs / category -> sprites
    runs.py        a run's handle and its lifecycle (state machine)
    webserver.py   a running Dagster webserver, over GraphQL

The plan is the state layer's (``pipeline.state.plan``); the Dagster side of a run (the instance, cancel
records, the in-process launch, publishing after a run) is ``pipeline.defs``. Nothing in the interface is
a Dagster type.
"""

from pipeline.service.build import BuildService
from pipeline.service.runs import CancelOutcome, Run, RunState
from pipeline.service.selection import NoSuchSprite, UnknownCategory, select
from pipeline.state.plan import Plan, plan_build

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
