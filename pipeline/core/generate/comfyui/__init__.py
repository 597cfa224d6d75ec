"""The ComfyUI backend: generate renders on ComfyUI servers over their HTTP and WebSocket API.

client.py     one server's API (httpx): submit, history, view, queue, interrupt, upload; error translation
templates.py  workflow templates (comfy_workflows/*.json) and their binding sidecars (pure)
binding.py    structural parameter binding: spec values into node inputs (pure)
preflight.py  does a server have every node class and model a graph needs (/object_info)
lifecycle.py  a job's states and events, and the one transition function (pure)
jobs.py       a job as the dispatcher tracks it
slots.py      a server as the dispatcher tracks it; the dispatcher's options
results.py    a finished job's history -> checked images (or the error it reports)
dispatch.py   many servers: the dispatcher's front (thread-safe calls, preflight, cancel, close) over its parts:
  core.py        shared state, lifecycle primitives, server health
  placement.py   which server gets a job; an idle server takes over a waiting one
  submission.py  uploads, POST /prompt, refusals
  following.py   the /ws event stream
  collect.py     /history + /view of a finished job
  watchdog.py    polling, failover, job timeouts
backend.py    ComfyUIBackend: the Backend interface over all of the above
"""

from pipeline.core.generate.comfyui.backend import ComfyUIBackend
from pipeline.core.generate.comfyui.client import ExecutionFailed, ServerUnavailable, WorkflowRejected
from pipeline.core.generate.comfyui.slots import DispatchOptions
from pipeline.core.generate.comfyui.templates import BindingError

__all__ = [
    "BindingError",
    "ComfyUIBackend",
    "DispatchOptions",
    "ExecutionFailed",
    "ServerUnavailable",
    "WorkflowRejected",
]
