"""The ComfyUI backend: generate renders on ComfyUI servers over their HTTP and WebSocket API.

client.py     one server's API (httpx + websockets): submit, history, view, queue, interrupt, upload
binding.py    workflow templates (comfy_workflows/*.json) and structural parameter binding (pure)
jobs.py       a job as the dispatcher tracks it
dispatch.py   many servers: placement, following, polling fallback, failover, cancel
preflight.py  does a server have every node class and model a graph needs (/object_info)
backend.py    ComfyUIBackend: the Backend interface over all of the above
"""

from pipeline.generate.comfyui.backend import ComfyUIBackend
from pipeline.generate.comfyui.binding import BindingError
from pipeline.generate.comfyui.client import ExecutionFailed, ServerUnavailable, WorkflowRejected
from pipeline.generate.comfyui.dispatch import DispatchOptions

__all__ = [
    "BindingError",
    "ComfyUIBackend",
    "DispatchOptions",
    "ExecutionFailed",
    "ServerUnavailable",
    "WorkflowRejected",
]
