"""Submission: upload a job's inputs and POST /prompt to the server placement chose; handle a refusal.

A validation error is final, except a model or node class missing on that server only: then the job waits for
another server (and never returns to the one that refused it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid

from pipeline.core.generate.comfyui.client import ServerUnavailable, WorkflowRejected
from pipeline.core.generate.comfyui.core import DispatchCore
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import Event, State
from pipeline.core.generate.comfyui.slots import Slot
from pipeline.errors import GenerationCancelled, GenerationError, ServerError

__all__ = ["Submission"]

log = logging.getLogger(__name__)


class Submission(DispatchCore):
    async def _submit(self, job: Job, slot: Slot) -> None:
        registered = False
        try:
            if job.cancel_requested:
                self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled before it was submitted"))
                return
            if not slot.ws_ready.is_set() and not slot.ws_waited:  # once: a broken socket must not delay every job
                slot.ws_waited = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(slot.ws_ready.wait(), self.options.ws_connect_wait)
            prompt_id = str(uuid.uuid4())
            graph, prefix = job.graph_for(prompt_id)
            for up in job.uploads:
                data = await asyncio.to_thread(up.read, job.sprite)
                if hashlib.sha256(data).hexdigest() != up.sha256:
                    raise GenerationError(
                        f"'{job.sprite}': init image {up.path} changed after the build was planned; run it again"
                    )
                graph[up.node]["inputs"][up.input] = await slot.client.upload_image(data, up.name)
            if job.state is not State.SUBMITTING:  # failed meanwhile (the backend closing)
                return
            job.prompt_id, job.prefix, job.confirmed_at = prompt_id, prefix, None
            job.attempts += 1
            job.submitted_at = time.monotonic()
            slot.jobs[prompt_id] = job  # before POST: events can arrive before its answer
            slot.reserved -= 1
            registered = True
            answer = await slot.client.post_prompt(graph, prompt_id, template=job.template)
        except WorkflowRejected as exc:
            self._rejected(job, slot, exc)
            return
        except ServerUnavailable as exc:
            self._unreachable(slot, exc)
            if job.state.followed:
                self._requeue(job, slot, f"unreachable ({exc})")
            return
        except GenerationError as exc:  # the init image vanished or changed; the server answered nonsense
            self._fail(job, exc)
            return
        finally:
            if not registered:
                slot.reserved -= 1
        job.confirmed_at = time.monotonic()
        self._reachable(slot)
        if answer.get("node_errors"):  # some outputs failed validation; ComfyUI runs the rest
            try:
                await slot.client.delete([prompt_id])
            except ServerError as exc:
                log.warning("%s: could not delete the half-valid prompt of '%s': %s", slot.url, job.sprite, exc)
            body = {
                "error": {"type": "prompt_outputs_failed_validation", "message": "some outputs failed validation"},
                "node_errors": answer["node_errors"],
            }
            self._rejected(job, slot, WorkflowRejected(slot.url, body, job.template))
            return
        if job.state is State.SUBMITTING and job.prompt_id == prompt_id:
            self._go(job, Event.ACCEPT)
            job.emit(0.01, f"queued on {slot.url}")
        if job.cancel_requested and job.state.followed:
            await self._cancel_on_server(job)
        self._pump()

    def _rejected(self, job: Job, slot: Slot, exc: WorkflowRejected) -> None:
        if job.state.terminal:  # the backend closed meanwhile
            return
        if job.prompt_id is not None:
            slot.jobs.pop(job.prompt_id, None)
        others = [s for s in self.slots if s is not slot and s.can_take(job)]
        if exc.server_specific and others and job.state.followed:
            log.info("%s refused '%s'; trying another server: %s", slot.url, job.sprite, exc)
            job.excluded.add(slot.url)
            job.notes.append(f"{slot.url}: {exc}")
            job.prompt_id, job.slot = None, None
            self._go(job, Event.REQUEUE)
            job.attempts -= 1
            self._pending.insert(0, job)
            self._pump()
        else:
            self._fail(job, exc)
