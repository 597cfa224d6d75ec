"""The ``sprites`` command. Each subcommand lives in its own module and is registered here."""

from __future__ import annotations

import click

from pipeline import __version__

__all__ = ["freeze_imports", "main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sprites")
def main() -> None:
    """Build game sprites from YAML specs into a Bevy assets folder, through Dagster.

    \b
    Typical use:
      sprites check            validate every spec (file, line and field for each problem)
      sprites build            generate, pixelate and export whatever is stale or missing
      sprites list             every sprite with its status
      sprites pick NAME [N]    show a sprite's candidates, or pick candidate N into its spec
      sprites dev              open the Dagster UI on this project
      sprites doctor           check the ComfyUI servers have every node and model the specs need
      sprites pixelate IN OUT  turn any "pixel-art style" render into true pixel art (--size, --palette)
      sprites mcp              serve the MCP tools to an agent or editor (stdio; --http for HTTP)

    Configuration comes from flags or environment variables (see `sprites build --help`).
    """


def _register() -> None:
    """Import the command modules (each adds itself to ``main``)."""
    from pipeline.faces.cli import cache_cmd, commands  # noqa: F401
    from pipeline.faces.cli.doctor_cmd import doctor_cmd
    from pipeline.faces.cli.mcp_cmd import mcp_cmd
    from pipeline.faces.cli.pick_cmd import pick_cmd
    from pipeline.faces.cli.pixelate_cmd import pixelate_cmd

    main.add_command(doctor_cmd)
    main.add_command(mcp_cmd)
    main.add_command(pixelate_cmd)
    main.add_command(pick_cmd)


_register()


def run() -> None:
    """The ``sprites`` console script: ``main``, then an exit that skips tearing the heap down.

    After a build the process holds Dagster and every spec (about 0.9 s of object-by-object teardown at
    2000 sprites, measured, after every file is written). So once a command has returned or called
    ``sys.exit``, the non-daemon threads are joined, the atexit handlers run (Dagster's, logging's)
    and stdio is flushed, as a normal exit would, and the process then ends with ``os._exit``. An
    exception other than SystemExit takes Python's normal path (traceback, full teardown).

    The modules imported so far are frozen out of the garbage collector (``gc.freeze``): a command is
    short-lived, and every full collection would walk them again (see ``freeze_imports``).
    """
    freeze_imports()
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _exit_now(code)


def freeze_imports(import_first: str | None = None) -> None:
    """Move every object alive now (modules, classes, Dagster's definitions) out of the collector's reach.

    A build allocates many small objects (JSON of a 2000-sprite lock and manifest, validated specs); each
    full collection walks the whole heap, and after importing Dagster that heap is large: at 2000 sprites
    parsing the manifest took ten times as long in the build as alone. ``import_first``: a module to import
    before, with the collector paused (importing makes objects that live as long as the process). Only for
    one-shot commands: a long-running server calling this repeatedly would keep garbage it froze."""
    import gc
    import importlib

    if import_first is not None:
        gc.disable()
        try:
            importlib.import_module(import_first)
        finally:
            gc.enable()
    gc.freeze()


def _exit_now(code: object) -> None:
    import atexit
    import contextlib
    import os
    import sys
    import threading

    if isinstance(code, str):  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`sprites list | head`)
            stream.flush()
    os._exit(status)
