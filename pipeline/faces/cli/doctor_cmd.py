"""``sprites doctor``: can the configured ComfyUI servers build the selected sprites? Checked before any GPU time.

Binds every selected spec into its workflow template (the same binding a build uses), asks each server for
/system_stats and /object_info, and prints, per server, every node class and model (checkpoint, LoRA, ...) that
a sprite needs and the server lacks, and every number outside the input's range there (seed, cfg, size, ...),
each with the graph's node id.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import click

from pipeline.core.specs import load_specs
from pipeline.errors import SpecError, SpriteError
from pipeline.faces.cli.settings_options import settings_from, settings_options
from pipeline.settings import Settings

if TYPE_CHECKING:  # the ComfyUI client (httpx, websockets) is imported when the command runs, not for `sprites`
    from pipeline.core.generate.base import GenerationRequest
    from pipeline.core.generate.comfyui.preflight import Missing, ServerProbe

__all__ = ["doctor_cmd"]


def _names(sprites: list[str], max_shown: int = 4) -> str:
    shown = ", ".join(sprites[:max_shown])
    return shown + (f" (+{len(sprites) - max_shown} more)" if len(sprites) > max_shown else "")


@click.command("doctor")
@click.argument("selection", nargs=-1)
@settings_options("project_dir", "specs_dir", "workflows_dir", "comfyui_urls")
@click.option("--all-specs", is_flag=True, help="Check every spec, also those whose backend is procedural.")
@click.option(
    "--strict", is_flag=True, help="Fail when any server lacks anything (not only when no server can run a sprite)."
)
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for each server.")
def doctor_cmd(selection: tuple[str, ...], all_specs: bool, strict: bool, timeout: float, **kwargs: Any) -> None:
    """Check that the ComfyUI servers have every node class, checkpoint and LoRA the sprites need.

    SELECTION: sprite names or globs (default: every sprite whose generation.backend is comfyui).
    Exit status 1 when a sprite cannot run on any server, a spec does not bind into its template, or no
    server answers (with --strict: when any server lacks anything).
    """
    try:
        settings = settings_from(kwargs)
        ok = _doctor(settings, selection, all_specs, strict, timeout)
    except SpriteError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(0 if ok else 1)


def _doctor(settings: Settings, selection: tuple[str, ...], all_specs: bool, strict: bool, timeout: float) -> bool:
    from pipeline.core.generate.comfyui.backend import ComfyUIBackend
    from pipeline.core.generate.comfyui.client import RetryPolicy
    from pipeline.core.generate.comfyui.preflight import probe_servers

    spec_set = load_specs(settings.specs_dir)
    chosen = [
        loaded
        for loaded in spec_set
        if (all_specs or selection or loaded.spec.generation.backend == "comfyui")
        and (not selection or any(fnmatch.fnmatch(loaded.name, pattern) for pattern in selection))
    ]
    backend = ComfyUIBackend(settings.comfyui_urls, project_dir=settings.project_dir)
    requests: dict[str, GenerationRequest] = {}
    problems: list[str] = []
    for loaded in chosen:
        try:
            requests[loaded.name] = backend.resolve(loaded.spec, settings)
        except SpecError as exc:
            for problem in exc.problems:  # a problem of the spec itself has no file yet: the spec's
                if problem.file:
                    problems.append(f"sprite_specs/{loaded.file}: {problem}")
                else:
                    problems.append(f"sprite_specs/{dataclasses.replace(problem, file=loaded.file, line=loaded.line)}")
    by_template: dict[str, list[str]] = defaultdict(list)
    for name, req in requests.items():
        by_template[req.payload["workflow"]].append(name)
    click.echo(f"Sprites checked: {len(chosen)} ({len(requests)} bind into their templates)")
    for template, names in sorted(by_template.items()):
        click.echo(f"  {template}: {_names(sorted(names))}")
    if problems:
        click.echo(f"Binding problems ({len(problems)}):")
        for line in problems:
            click.echo(f"  {line}")

    urls = settings.comfyui_urls
    if not urls:
        click.echo(
            "ComfyUI servers: none configured (set SPRITES_COMFYUI_URL=http://HOST:8188, several comma-separated)"
        )
        return not requests and not problems
    probes = probe_servers(urls, RetryPolicy(deadline=timeout, timeout=timeout))
    click.echo(f"ComfyUI servers ({len(urls)}):")
    for p in probes:
        click.echo(f"  {'OK  ' if p.ok else 'DOWN'}  {p.url}  {p.describe()}")
    runnable, lacking = _missing(requests, [p for p in probes if p.ok])
    for p in probes:
        if not p.ok:
            continue
        items = lacking.get(p.url, {})
        if not items:
            click.echo(f"{p.url}: has every node class and model for {len(requests)} sprite(s)")
            continue
        click.echo(f"{p.url}: missing {len(items)} thing(s):")
        for missing, sprites in sorted(items.items(), key=lambda kv: str(kv[0])):
            click.echo(f"  {missing.need}  <- needed by {_names(sorted(sprites))}")
            if missing.need.kind == "range":
                click.echo(f"      the server accepts: {', '.join(missing.options)} (fix the spec or the template)")
            elif missing.need.input is not None:
                shown = ", ".join(missing.options[:10]) + (", ..." if len(missing.options) > 10 else "")
                click.echo(f"      the server has: {shown or 'none'}")
    stranded = sorted(set(requests) - runnable)
    answered = any(p.ok for p in probes)
    if stranded and answered:
        click.echo(f"NOT READY: {len(stranded)} sprite(s) can run on no server: {_names(stranded, 10)}")
    elif not answered:
        click.echo("NOT READY: no ComfyUI server answered")
    elif problems:
        click.echo("NOT READY: fix the binding problems above (`sprites check` shows them too)")
    else:
        click.echo(f"READY: every checked sprite can run on at least one of {sum(p.ok for p in probes)} server(s)")
    partial = any(lacking.values()) or not all(p.ok for p in probes)
    return answered and not stranded and not problems and not (strict and partial)


def _missing(
    requests: dict[str, GenerationRequest], probes: list[ServerProbe]
) -> tuple[set[str], dict[str, dict[Missing, list[str]]]]:
    """Which sprites can run somewhere, and per server: what is missing -> which sprites need it."""
    from pipeline.core.generate.comfyui.chain import payload_needs
    from pipeline.core.generate.comfyui.preflight import missing_on

    runnable: set[str] = set()
    lacking: dict[str, dict[Missing, list[str]]] = {p.url: defaultdict(list) for p in probes}
    needs_of: dict[str, Any] = {name: payload_needs(req.payload) for name, req in requests.items()}
    for p in probes:
        for name, needs in needs_of.items():
            gaps = missing_on(needs, p.object_info)
            if not gaps:
                runnable.add(name)
            for gap in gaps:
                lacking[p.url][gap].append(name)
    return runnable, {url: dict(items) for url, items in lacking.items() if items}
