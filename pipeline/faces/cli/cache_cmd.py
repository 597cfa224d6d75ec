"""``sprites cache stats|gc|push|pull``: what the content-addressed cache holds, pruning it, and syncing it
with the remote tier (``SPRITES_CACHE_URL``, see ``pipeline.state.cache_remote``)."""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline.core.specs import load_specs
from pipeline.errors import ConfigError
from pipeline.faces.cli import main
from pipeline.faces.cli.options import console, project_options, settings_from, user_errors
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.cache_remote import TieredCache, open_cache
from pipeline.state.cache_sync import SyncReport, pull, push

STAGES = ("generate", "pixelate")


def _referenced(settings: Settings, cache: ContentCache | None = None) -> dict[str, set[str]]:
    """Cache keys the current specs use: their generation keys, and the pixel keys of those renders
    (renders found in ``cache``; with a remote tier, found there too, which downloads them)."""
    from pipeline.core.generate import resolve_requests
    from pipeline.state.stages import pixelate_key

    spec_set = load_specs(settings.specs_dir)
    requests = resolve_requests(spec_set, settings)
    cache = cache or ContentCache(settings.cache_dir)
    pixel: set[str] = set()
    for name, request in requests.items():
        raw = cache.get("generate", request.key)
        if raw is not None:
            pixel.add(pixelate_key([raw.hashes[f] for f in sorted(raw.hashes)], spec_set.specs[name].spec))
    from pipeline.state.candidates import resolve_candidates

    # a sprite's candidates stay while its spec has `candidates`: a later pick (or a change of mind) is instant
    candidates = {r.key for rs in resolve_candidates(spec_set, settings).values() for r in rs}
    return {"generate": {r.key for r in requests.values()} | candidates, "pixelate": pixel}


def _entry_bytes(cache: ContentCache, stage: str, key: str) -> int:
    folder = cache.root / stage / key[:2] / key
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


@main.group("cache")
def cache_group() -> None:
    """Inspect, prune and sync the content-addressed cache (SPRITES_CACHE_DIR, remote: SPRITES_CACHE_URL)."""


@cache_group.command("stats")
@project_options
@user_errors
def stats_cmd(**kwargs: Any) -> None:
    """Entries and bytes per stage, and how many the current specs still reference."""
    from rich.table import Table

    settings = settings_from(kwargs)
    cache = ContentCache(settings.cache_dir)
    used = _referenced(settings)
    table = Table(title=f"cache {settings.cache_dir}", title_justify="left")
    for col in ("stage", "entries", "referenced", "unreferenced", "MB"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for stage in STAGES:
        keys = cache.keys(stage)
        size = sum(_entry_bytes(cache, stage, k) for k in keys)
        ref = sum(k in used[stage] for k in keys)
        table.add_row(stage, str(len(keys)), str(ref), str(len(keys) - ref), f"{size / 1e6:.2f}")
    console().print(table)
    if settings.cache_url:
        remote = _tiered(settings)
        table = Table(title=f"remote cache {settings.cache_url}", title_justify="left")
        for col in ("stage", "entries", "referenced", "only remote", "only local", "MB"):
            table.add_column(col, justify="right" if col != "stage" else "left")
        for stage in STAGES:
            there = remote.remote.listing(stage)
            local = set(cache.keys(stage))
            table.add_row(
                stage,
                str(len(there)),
                str(sum(k in used[stage] for k in there)),
                str(len(set(there) - local)),
                str(len(local - set(there))),
                f"{sum(there.values()) / 1e6:.2f}",
            )
        console().print(table)


def _tiered(settings: Settings) -> TieredCache:
    if not settings.cache_url:
        raise ConfigError("no remote cache configured: set SPRITES_CACHE_URL=s3://bucket/prefix (see docs/scaling.md)")
    cache = open_cache(settings.cache_dir, settings.cache_url)
    assert isinstance(cache, TieredCache)
    return cache


def _report(verb: str, report: SyncReport, where: str) -> None:
    click.echo(
        f"{verb} {len(report.moved)} entries ({report.bytes / 1e6:.2f} MB) {where}; {report.present} already there"
        + (f"; {len(report.failed)} failed" if report.failed else "")
    )
    for address, why in sorted(report.failed.items()):
        click.echo(f"  {address}: {why}", err=True)


@cache_group.command("push")
@click.option("--all", "everything", is_flag=True, help="Every local entry, not only those the current specs use.")
@project_options
@user_errors
def push_cmd(everything: bool, **kwargs: Any) -> None:
    """Upload the local cache's entries that the remote tier (SPRITES_CACHE_URL) lacks; exit 1 if any failed."""
    settings = settings_from(kwargs)
    cache = _tiered(settings)
    only = None if everything else _referenced(settings, ContentCache(settings.cache_dir))
    report = push(cache, STAGES, only)
    _report("pushed", report, f"to {settings.cache_url}")
    if report.failed:
        sys.exit(1)


@cache_group.command("pull")
@click.option("--all", "everything", is_flag=True, help="Every remote entry, not only those the current specs use.")
@project_options
@user_errors
def pull_cmd(everything: bool, **kwargs: Any) -> None:
    """Download (verified) the entries the current specs need from the remote tier; exit 1 if any is missing
    or corrupt there."""
    settings = settings_from(kwargs)
    cache = _tiered(settings)
    if everything:
        report = pull(cache, None, STAGES)
    else:
        # renders first: the pixel keys are computed from the renders' hashes
        from pipeline.core.generate import resolve_requests

        keys = {r.key for r in resolve_requests(load_specs(settings.specs_dir), settings).values()}
        report = pull(cache, {"generate": keys}, ("generate",))
        pixel_keys = _referenced(settings, ContentCache(settings.cache_dir))["pixelate"]
        pixels = pull(cache, {"pixelate": pixel_keys}, ("pixelate",))
        report.moved += pixels.moved
        report.present += pixels.present
        report.bytes += pixels.bytes
        report.failed.update(pixels.failed)
    _report("pulled", report, f"from {settings.cache_url} into {settings.cache_dir}")
    if report.failed:
        sys.exit(1)


def write_back(settings: Settings, out: Any) -> None:
    """After a build: push what the remote tier still lacks (uploads that failed during the run). Never fails
    the build (its sprites are built); says what could not be pushed and what to run."""
    from pipeline.errors import CacheError

    try:
        cache = _tiered(settings)
        report = push(cache, STAGES, _referenced(settings, ContentCache(settings.cache_dir)))
    except CacheError as exc:
        out.print(f"[yellow]warning:[/] {exc}; the sprites are built; run `sprites cache push` later")
        return
    if report.moved:
        out.print(f"remote cache: pushed {len(report.moved)} entries to {settings.cache_url}")
    if report.failed:
        first = next(iter(report.failed.values()))
        out.print(
            f"[yellow]warning:[/] remote cache: {len(report.failed)} entries not pushed ({first}); "
            "the sprites are built; run `sprites cache push` later"
        )


@cache_group.command("gc")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@project_options
@user_errors
def gc_cmd(dry_run: bool, **kwargs: Any) -> None:
    """Remove cache entries that no current spec references (renders and pixel sheets of old inputs)."""
    settings = settings_from(kwargs)
    cache = ContentCache(settings.cache_dir)
    used = _referenced(settings)
    removed = freed = 0
    for stage in STAGES:
        for key in cache.keys(stage):
            if key in used[stage]:
                continue
            removed += 1
            freed += _entry_bytes(cache, stage, key) if dry_run else cache.remove(stage, key)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {removed} unreferenced entries ({freed / 1e6:.2f} MB) from {settings.cache_dir}")
