"""``sprites pick NAME [INDEX]``: list a sprite's candidates (with previews), or pick one into its spec."""

from __future__ import annotations

import io
from typing import Any

import click

from pipeline.faces.cli.options import console, project_options, settings_from, user_errors

__all__ = ["pick_cmd", "terminal_preview"]


def terminal_preview(png: bytes, width: int = 24) -> Any:
    """A render as rich text of half blocks (two pixels per character cell, true colour where the terminal
    has it), ``width`` cells wide: enough to tell candidates apart in a terminal."""
    import numpy as np
    from PIL import Image
    from rich.style import Style
    from rich.text import Text

    image = Image.open(io.BytesIO(png)).convert("RGBA")
    height = max(2, round(image.height * width / image.width / 2) * 2)
    small = image.resize((width, height), Image.Resampling.BOX)
    px = np.asarray(small)
    text = Text()
    for y in range(0, height, 2):
        for x in range(width):
            top, bottom = px[y, x], px[y + 1, x]
            fg = f"rgb({top[0]},{top[1]},{top[2]})" if top[3] >= 128 else None
            bg = f"rgb({bottom[0]},{bottom[1]},{bottom[2]})" if bottom[3] >= 128 else None
            text.append("▀" if fg else ("▄" if bg else " "), Style(color=fg or bg, bgcolor=bg if fg else None))
        if y + 2 < height:
            text.append("\n")
    return text


@click.command("pick")
@click.argument("name")
@click.argument("index", type=int, required=False)
@click.option("--build", "build_after", is_flag=True, help="After picking, build the sprite (no render: a cache hit).")
@click.option(
    "--preview/--no-preview",
    default=None,
    help="Draw the candidates in the terminal (default: when the output is a terminal).",
)
@project_options
@user_errors
def pick_cmd(name: str, index: int | None, build_after: bool, preview: bool | None, **kwargs: Any) -> None:
    """List the candidates of sprite NAME, or pick candidate INDEX (0, 1, ...).

    \b
    The pick writes the candidate's seed into the sprite's spec file as `candidates.picked` (one line;
    comments and layout kept): commit it, and every later build, in CI too, publishes that candidate.
    Picking never re-renders: each candidate is cached under its own seed.
    """
    from pipeline.core.specs import load_specs
    from pipeline.state.candidates import candidate_set, pick, write_previews

    options = dict(kwargs)  # settings_from pops them; --build passes them on
    settings = settings_from(kwargs)
    out = console()
    spec_set = load_specs(settings.specs_dir)
    if index is None:
        cands = candidate_set(settings, spec_set, name)
        paths = write_previews(settings, cands)
        spec = cands.loaded.spec
        assert spec.candidates is not None
        out.print(
            f"[bold]{name}[/]: {len(cands.candidates)} candidates (sprite_specs/{cands.loaded.file}, "
            f"publish until a pick: {spec.candidates.publish})"
        )
        show = out.is_terminal if preview is None else preview
        for c in cands.candidates:
            where = "  ".join(map(str, paths[c.index])) if c.index in paths else "not rendered yet"
            if c.pixel_error:
                where += f"  [red]pixel stage refused it:[/] {c.pixel_error}"
            out.print(f"  {c.index}: seed {c.seed}{'  [green]picked[/]' if c.picked else ''}"
                      f"{'  [cyan]published[/]' if c.published and not c.picked else ''}  {where}")  # fmt: skip
        if show and paths:
            from rich.columns import Columns
            from rich.panel import Panel

            panels = [
                Panel(terminal_preview(c.png), title=str(c.index), expand=False) for c in cands.candidates if c.png
            ]
            out.print(Columns(panels))
        if cands.missing:
            hint = "" if spec.candidates.picked is None else " (after a pick only the pick is rendered)"
            out.print(f"{len(cands.missing)} not rendered{hint}: `sprites build {name}` renders them")
        out.print(f"Pick one with `sprites pick {name} INDEX`.")
        return
    result = pick(settings, spec_set, name, index)
    rel = (
        result.spec_file.relative_to(settings.project_dir)
        if result.spec_file.is_relative_to(settings.project_dir)
        else result.spec_file
    )
    if result.changed:
        out.print(f"picked candidate {index} of {name}: wrote candidates.picked: {result.seed} into {rel}")
    else:
        out.print(f"{name}: candidate {index} (seed {result.seed}) is already the pick in {rel}")
    if not build_after:
        out.print(f"`sprites build {name}` publishes it (its render is cached: nothing is rendered again).")
        return
    from pipeline.faces.cli.commands import build_cmd

    click.get_current_context().invoke(build_cmd, selection=(name,), **options)
