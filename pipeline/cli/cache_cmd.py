"""``sprites cache stats`` and ``sprites cache gc``: what the content-addressed cache holds, and pruning it."""

from __future__ import annotations

from typing import Any

import click

from pipeline.cache import ContentCache
from pipeline.cli import main
from pipeline.cli.options import console, project_options, settings_from, user_errors
from pipeline.settings import Settings
from pipeline.specs import load_specs

STAGES = ("generate", "pixelate")


def _referenced(settings: Settings) -> dict[str, set[str]]:
    """Cache keys the current specs use: their generation keys, and the pixel keys of those renders."""
    from pipeline.generate import resolve_requests
    from pipeline.stages import pixelate_key

    spec_set = load_specs(settings.specs_dir)
    requests = resolve_requests(spec_set, settings)
    cache = ContentCache(settings.cache_dir)
    pixel: set[str] = set()
    for name, request in requests.items():
        raw = cache.get("generate", request.key)
        if raw is not None:
            pixel.add(pixelate_key([raw.hashes[f] for f in sorted(raw.hashes)], spec_set.specs[name].spec))
    return {"generate": {r.key for r in requests.values()}, "pixelate": pixel}


def _entry_bytes(cache: ContentCache, stage: str, key: str) -> int:
    folder = cache.root / stage / key[:2] / key
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


@main.group("cache")
def cache_group() -> None:
    """Inspect and prune the content-addressed cache (SPRITES_CACHE_DIR)."""


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
