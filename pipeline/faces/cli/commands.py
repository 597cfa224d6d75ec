"""Core commands: ``check``, ``list``, ``build`` and ``dev``."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from pipeline.core.generate import make_backend, resolve_requests
from pipeline.core.specs import SpecSet, load_specs
from pipeline.core.specs.parse_cache import PARSE_CACHE_FILE
from pipeline.errors import ConfigError, GenerationError
from pipeline.faces.cli import main
from pipeline.faces.cli.options import CATEGORY, console, project_options, select_names, settings_from, user_errors
from pipeline.faces.cli.settings_options import ALL_FLAGS, settings_options
from pipeline.service import BuildService
from pipeline.settings import Settings
from pipeline.state import inputs

AWAITING_PICK = "awaiting a pick"
_STATUS_STYLE = {
    AWAITING_PICK: "cyan",
    "up to date": "green",
    "stale": "yellow",
    "missing": "cyan",
    "built": "green",
    "failed": "red",
    "skipped": "dim",
}


def _styled(status: str) -> str:
    """A status in its colour (an unknown one plain: rich reads "[]x[/]" as broken markup and raises)."""
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


@main.command("check")
@click.option("--locked", is_flag=True, help="Also fail when specs, workflows or Bevy files differ from sprites.lock.")
@project_options
@user_errors
def check_cmd(locked: bool, **kwargs: Any) -> None:
    """Validate every sprite spec; exit non-zero listing every problem (file, line, sprite, field).

    With --locked (what CI runs): also fail, naming the sprites, when a spec or workflow changed
    without a rebuild, or a file in the Bevy folder no longer matches sprites.lock.
    """
    settings = settings_from(kwargs)
    spec_set = load_specs(settings.specs_dir, settings.state_dir / PARSE_CACHE_FILE)
    requests = resolve_requests(spec_set, settings)  # binds workflow templates too: a bad binding fails here
    files = len({s.file for s in spec_set})
    click.echo(f"OK: {len(spec_set)} sprites in {files} files under {settings.specs_dir} are valid.")
    if not locked:
        return
    from pipeline.state.lockfile import LOCK_FILE, read_lock
    from pipeline.state.status import project_state

    lock = read_lock(settings)
    if lock is None:
        raise ConfigError(f"no {LOCK_FILE} in {settings.project_dir}; run `sprites build` and commit it")
    problems = project_state(settings, spec_set, requests, lock).problems()
    if problems:
        click.echo(f"{len(problems)} problem(s): the specs, the Bevy folder and {LOCK_FILE} are out of step:", err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        click.echo("Run `sprites build` and commit the result.", err=True)
        sys.exit(1)
    click.echo(f"OK: the Bevy folder and every spec match {LOCK_FILE}.")


@main.command("list")
@click.argument("selection", nargs=-1)
@click.option("--category", type=CATEGORY, help="Only sprites of this category (one of the project's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@project_options
@user_errors
def list_cmd(selection: tuple[str, ...], category: str | None, as_json: bool, **kwargs: Any) -> None:
    """List sprites with their status: up to date, stale (and why) or missing."""
    settings = settings_from(kwargs)
    spec_set = load_specs(settings.specs_dir, settings.state_dir / PARSE_CACHE_FILE)
    names = select_names(spec_set, selection, category)
    project = BuildService(settings).plan(spec_set, names, old_lock_ok=False).project
    states = list(project.sprites.values())
    if as_json:
        rows = [
            {
                "name": st.name,
                "status": st.status,
                "reason": st.reason,
                "category": st.loaded.spec.category,
                "size": str(st.loaded.spec.size),
                "frames": st.loaded.spec.animation.frames,
                "backend": st.request.backend,
                "path": st.loaded.spec.output_path,
                "spec_file": st.loaded.file,
                "spec_line": st.loaded.line,
            }
            for st in states
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(states)} sprites", title_justify="left")
    for col in ("sprite", "category", "size", "frames", "backend", "status", "path / reason"):
        table.add_column(col)
    for st in states:
        spec = st.loaded.spec
        table.add_row(
            spec.name,
            spec.category,
            str(spec.size),
            str(spec.animation.frames),
            st.request.backend,
            _styled(st.status),
            st.reason or spec.output_path,
        )
    out = console()
    out.print(table)
    for line in project.unpublished + [f"{n}: spec deleted, still in sprites.lock" for n in project.removed]:
        out.print(f"[yellow]publication:[/] {line} (`sprites build` republishes)")


@main.command("build")
@click.argument("selection", nargs=-1)
@click.option("--category", type=CATEGORY, help="Only sprites of this category (one of the project's).")
@click.option("--force", is_flag=True, help="Rebuild the selection even if it is up to date.")
@click.option("--offline", is_flag=True, help="Never contact a generation server: use the cache or fail.")
@click.option("--dry-run", is_flag=True, help="Show what would be built, build nothing.")
@click.option("-v", "--verbose", is_flag=True, help="Show Dagster's own run log.")
@click.option(
    "--checks",
    is_flag=True,
    help="Kept for compatibility: the asset checks (size, palette, alpha, file hash, manifest) run in every build.",
)
@project_options
@user_errors
def build_cmd(
    selection: tuple[str, ...],
    category: str | None,
    force: bool,
    offline: bool,
    dry_run: bool,
    verbose: bool,
    checks: bool,
    **kwargs: Any,
) -> None:
    """Generate, pixelate and export sprites that are stale or missing (SELECTION: names or globs).

    \b
    Runs through Dagster against the project's instance (DAGSTER_HOME, default ./dagster_home),
    so builds show in `sprites dev` / `dagster dev` with lineage and previews. Exit code 1 if any
    sprite failed, 2 if the specs are invalid.
    """
    started = time.perf_counter()
    settings = settings_from(kwargs)
    out = console()
    whole_project = not selection and not category
    snapshot: dict[str, str] = {}  # the inputs as this build reads them (before they are parsed)
    if whole_project and not force and not dry_run:
        known = inputs.noop_for(settings, snapshot)
        if known is not None:
            out.print(f"0 built, {known} up to date ({time.perf_counter() - started:.2f}s)")
            return
    snapshot = snapshot or inputs.hash_tree(settings.specs_dir, settings.workflows_dir)
    service = BuildService(settings)
    spec_set = load_specs(settings.specs_dir, settings.state_dir / PARSE_CACHE_FILE)
    requests = resolve_requests(spec_set, settings)
    names = select_names(spec_set, selection, category)
    # a lockfile of an older version counts as empty when the whole project is rebuilt (every entry is then
    # rewritten), and is an error otherwise
    plan = service.plan(spec_set, names, force=force, old_lock_ok=whole_project, requests=requests)
    project, todo = plan.project, plan.todo
    states = list(project.sprites.values())
    up_to_date = len(states) - len(todo)
    if dry_run:
        for st in todo:
            out.print(f"would build [bold]{st.name}[/]: {'forced' if force and not st.reason else st.reason}")
        for line in project.unpublished + [f"remove {n} (spec deleted)" for n in project.removed]:
            out.print(f"would republish: {line}")
        out.print(f"{len(todo)} to build, {up_to_date} up to date" + ("" if project.published else ", manifest stale"))
        return
    if offline:
        _refuse_missing_offline(settings, spec_set, todo)
    outcome = None
    if todo:
        from pipeline.faces.cli import freeze_imports

        freeze_imports(import_first="pipeline.defs.location")  # Dagster and the asset factory
        outcome = _run_with_progress(service, spec_set, todo, offline, verbose, checks, out)
    elif not project.published:
        service.publish(plan)  # nothing to build: render the manifest from the lock
    from pipeline.state.fastpath import remember_if_current

    remember_if_current(settings, spec_set, requests, snapshot, known=project)
    if settings.cache_url and outcome is not None:
        from pipeline.faces.cli.cache_cmd import write_back

        write_back(settings, out)  # whatever the remote tier still lacks after this build
    if outcome is None:
        out.print(f"0 built, {up_to_date} up to date ({time.perf_counter() - started:.2f}s)")
        return
    for st in todo:  # candidates rendered for a person to pick from; nothing published (docs/candidates.md)
        o = outcome.sprites.get(st.name)
        if o is not None and o.status == "built" and st.loaded.spec.awaiting_pick:
            o.status = AWAITING_PICK
    _print_summary(out, outcome, states, todo)
    failures = {n: o.error or o.status for n, o in outcome.sprites.items() if o.status not in ("built", AWAITING_PICK)}
    built = sum(o.status == "built" for o in outcome.sprites.values())
    awaiting = sum(o.status == AWAITING_PICK for o in outcome.sprites.values())
    out.print(
        f"{built} built, {up_to_date} up to date"
        + (f", {awaiting} {AWAITING_PICK} (`sprites pick NAME`)" if awaiting else "")
        + (f", {len(failures)} failed" if failures else "")
        + f" ({time.perf_counter() - started:.1f}s, Dagster run {outcome.run_id[:8]})"
    )
    if outcome.manifest_error:
        failures["bevy/manifest"] = outcome.manifest_error
    if failures:
        click.echo("Failed:", err=True)
        for name, why in failures.items():
            click.echo(f"  {name}: {why}", err=True)
        sys.exit(1)


def _refuse_missing_offline(settings: Settings, spec_set: SpecSet, todo: list[Any]) -> None:
    """--offline: list every render that would need a generation server, before starting anything."""
    from pipeline.core.generate.base import Backend
    from pipeline.state.cache_remote import open_cache
    from pipeline.state.candidates import renders_to_make, resolve_candidates

    cache = open_cache(settings.cache_dir, settings.cache_url)  # the remote tier too: offline means "no server"
    remote: dict[str, bool] = {}
    missing = []
    candidates = resolve_candidates(spec_set, settings, [st.name for st in todo])
    for st in todo:
        kind = st.request.backend
        if kind not in remote:
            backend: Backend = make_backend(kind, settings)
            remote[kind] = backend.remote
        others = renders_to_make(st.loaded.spec, candidates.get(st.name, []), st.request)  # the ones to pick from
        for i, request in enumerate([st.request, *others]):
            if remote[kind] and not cache.has("generate", request.key):
                what = "render" if i == 0 else "candidate render"
                missing.append(f"{st.name} ({kind} {what} {request.key[:12]})")
    if missing:
        where = settings.cache_dir if not settings.cache_url else f"{settings.cache_dir} or {settings.cache_url}"
        tier = getattr(cache, "remote", None)
        why = f" ({tier.problems[0]})" if tier is not None and tier.problems else ""
        raise GenerationError(
            f"--offline: {len(missing)} render(s) are not in the cache at {where}{why} and would need a "
            f"generation server: {', '.join(missing)}. Build them online once, or point SPRITES_CACHE_DIR "
            "(or SPRITES_CACHE_URL) at a shared cache that has them."
        )


def _run_with_progress(
    service: BuildService, spec_set: Any, todo: list[Any], offline: bool, verbose: bool, checks: bool, out: Any
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    ) as progress:
        task = progress.add_task("building", total=len(todo) or 1)

        def on_event(ev: Any) -> None:
            if ev.kind != "progress":
                progress.advance(task)
            progress.update(task, description=f"{ev.sprite}: {ev.message}"[:60])

        outcome = service.build(
            [st.name for st in todo],
            offline=offline,
            on_event=on_event,
            log_level="INFO" if verbose else "CRITICAL",
            checks=checks,
            spec_set=spec_set,
        )
    return outcome


def _print_summary(out: Any, outcome: Any, states: list[Any], todo: list[Any]) -> None:
    from rich.table import Table

    reasons = {st.name: st.reason for st in todo}
    table = Table(title="build summary", title_justify="left")
    for col in ("sprite", "result", "raw", "pixel", "bevy", "seconds", "why"):
        table.add_column(col)
    for name, o in outcome.sprites.items():
        written = {"hit": "unchanged", "miss": "written"}.get(o.cache.get("bevy", ""), "-")
        table.add_row(
            name,
            _styled(o.status),
            o.cache.get("raw", "-"),
            o.cache.get("pixel", "-"),
            written,
            f"{o.seconds:.2f}",
            (o.error or reasons.get(name) or "forced")[:80],
        )
    out.print(table)


@main.command("dev", context_settings={"ignore_unknown_options": True})
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
@settings_options(*ALL_FLAGS)
@user_errors
def dev_cmd(host: str, port: int, dagster_args: tuple[str, ...], **kwargs: Any) -> None:
    """Open the Dagster UI (`dagster dev`) on this project with its own DAGSTER_HOME.

    Every setting given here (flag or environment variable) reaches the code location, the daemon and
    the runs: `dagster dev` gets them all as environment variables.
    """
    settings = settings_from(kwargs)
    if settings.dagster_url is None:  # the spec sensor reloads the code location through this webserver
        settings = settings.model_copy(update={"dagster_url": f"http://{host}:{port}"})
    from pipeline.defs.instance import ensure_dagster_home

    ensure_dagster_home(settings)
    env = {**os.environ, **settings.environment()}
    workspace = settings.project_dir / "workspace.yaml"
    if not workspace.is_file():  # a project of its own, outside this repository: same code location
        workspace = settings.state_dir / "workspace.yaml"
        workspace.parent.mkdir(parents=True, exist_ok=True)
        workspace.write_text(
            "load_from:\n  - python_module:\n      module_name: pipeline.definitions\n      location_name: sprites\n"
        )
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(workspace),
        "-h",
        host,
        "-p",
        str(port),
        *dagster_args,
    ]
    click.echo(f"DAGSTER_HOME={env['DAGSTER_HOME']}  ->  http://{host}:{port}")
    from pipeline.core.interrupts import exit_code_for, run_child_group, signal_name

    # its own process group, stopped as a whole on SIGINT/SIGTERM: no webserver or daemon outlives us
    status, signum = run_child_group(cmd, cwd=settings.project_dir, env=env)
    if signum is not None:
        click.echo(f"dagster dev stopped ({signal_name(signum)})", err=True)
        sys.exit(exit_code_for(signum))
    sys.exit(status)


@main.command("schema")
@click.option("--write", is_flag=True, help="Write sprite_specs/sprite-spec.schema.json instead of printing it.")
@project_options
@user_errors
def schema_cmd(write: bool, **kwargs: Any) -> None:
    """Print (or --write) the JSON Schema that editors use to complete and check spec files."""
    from pipeline.core.specs import read_categories
    from pipeline.core.specs.schema import SCHEMA_FILE, render_schema

    settings = settings_from(kwargs)
    text = render_schema(read_categories(settings.specs_dir))  # the category enum is the project's list
    if not write:
        click.echo(text, nl=False)
        return
    target = settings.specs_dir / SCHEMA_FILE
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}")
