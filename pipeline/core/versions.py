"""Versions of everything that shapes output bytes. Bump one when the same inputs would now give other bytes.

Kept dependency-free so the no-op fast path (``pipeline.state.inputs``) can read them without importing
numpy, Pillow or Dagster.
"""

from pipeline import __version__

PROCEDURAL_VERSION = "2"
PIXELATE_VERSION = "3"
EXPORT_VERSION = "1"

#: changes whenever any stage's code version changes: invalidates the no-op fast path
CODE_VERSION = f"{__version__}/procedural{PROCEDURAL_VERSION}/pixelate{PIXELATE_VERSION}/export{EXPORT_VERSION}"
