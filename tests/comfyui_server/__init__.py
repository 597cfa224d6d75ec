"""A ComfyUI-protocol server for tests and benchmarks: real HTTP + WebSocket on 127.0.0.1, fake GPU work.

Follows Comfy-Org/ComfyUI's ``server.py`` and ``execution.py`` and what a real v0.3.64 server answered
(``/work/shared/comfyui/real-server-transcript.txt``), with fault injection (``Faults``): 400 validation
errors (they come from real validation: unknown class, missing model, bad values), execution_error, a
dropped or silent WebSocket, a restart that wipes history, slow responses and 5xx.

Standalone: ``python -m tests.comfyui_server --port 8188 --latency 0.5``.
"""

from tests.comfyui_server.engine import Faults
from tests.comfyui_server.server import DEFAULT_MODELS, FakeComfyServer

__all__ = ["DEFAULT_MODELS", "FakeComfyServer", "Faults"]
