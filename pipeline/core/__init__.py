"""The core: what a sprite is and how its bytes are made, with no Dagster import.

specs/       the pydantic spec model, YAML loading with file/line errors, categories, JSON Schema
generate/    the Backend interface; procedural (embedded), image, comfyui/
pixelate/    grid, per-cell colour, palettes (OKLab), drift, alpha, dither
export/      PNG + .meta, manifest, .assets.ron, atomic writes
stages.py    the three stages of one sprite as plain functions, each keyed and cached
candidates.py several seeds of a sprite, their renders and the pick
previews.py  nearest-neighbour previews for the UI
versions.py  the versions of everything that shapes output bytes
interrupts.py Ctrl-C and SIGTERM for the long-running commands
"""
