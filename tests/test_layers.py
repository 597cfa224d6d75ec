"""The package layout is the architecture (``pipeline/__init__.py``): each layer imports only the layers
below it, and the core and the state never import Dagster. Read from the source with ``ast``, so an
import inside a function or under ``TYPE_CHECKING`` counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PIPELINE = REPO / "pipeline"
# A layer may import the ones listed after it, never those before it. `errors` and `settings` sit at the
# bottom: every layer uses them. `definitions.py` is the code location's root, above the Dagster wiring.
ORDER = ["faces", "service", "definitions", "defs", "state", "core", "settings", "errors"]
# The core and the state run without Dagster (the pixel stage in a script, the no-op check, CI's checks).
NO_DAGSTER = {"core", "state"}


def _layer(module: str) -> str | None:
    """``pipeline.state.lockfile`` -> ``state``; None for the package root (``pipeline.__version__``) and
    anything outside pipeline."""
    parts = module.split(".")
    if parts[0] != "pipeline" or len(parts) < 2 or parts[1].startswith("__"):
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, absolute, with its line (``from pipeline import x`` -> ``pipeline.x``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import (the project imports absolutely)"
            base = node.module or ""
            found += [(node.lineno, f"{base}.{alias.name}" if base == "pipeline" else base) for alias in node.names]
    return sorted(set(found))


def _modules() -> list[tuple[str, Path]]:
    return [(".".join(path.relative_to(REPO).with_suffix("").parts), path) for path in sorted(PIPELINE.rglob("*.py"))]


def test_every_module_belongs_to_a_layer() -> None:
    """No loose module at the top of pipeline/: a newcomer finds everything from ``ls pipeline/``."""
    loose = [name for name, _ in _modules() if name != "pipeline.__init__" and _layer(name) not in ORDER]
    assert loose == []
    assert sorted(p.name for p in PIPELINE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        layer for layer in ORDER if (PIPELINE / layer).is_dir()
    )


@pytest.mark.parametrize("layer", ORDER)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    below = set(ORDER[ORDER.index(layer) :])
    offending = [
        f"{path.relative_to(REPO)}:{line}: imports {target}"
        for name, path in _modules()
        if _layer(name) == layer
        for line, target in _imports(path)
        if (_layer(target) or layer) not in below
    ]
    assert offending == []


@pytest.mark.parametrize("layer", sorted(NO_DAGSTER))
def test_the_core_and_the_state_never_import_dagster(layer: str) -> None:
    offending = [
        f"{path.relative_to(REPO)}:{line}: imports {target}"
        for name, path in _modules()
        if _layer(name) == layer
        for line, target in _imports(path)
        if target.split(".")[0].startswith("dagster")
    ]
    assert offending == []


def test_settings_import_dagster_only_where_a_value_is_checked() -> None:
    """The settings model is read before anything else (the CLI's flags, the no-op path): a module-level
    Dagster import would put Dagster's start-up in front of every command."""
    offending = []
    for name, path in _modules():
        if _layer(name) != "settings":
            continue
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offending += [f"{path.relative_to(REPO)}:{node.lineno}" for n in names if n.startswith("dagster")]
    assert offending == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The test above would catch it: a core module importing the Dagster wiring is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from pipeline.defs.assets import build_assets\n    import dagster\n")
    targets = [target for _, target in _imports(sample)]
    assert targets == ["pipeline.defs.assets", "dagster"]  # sorted by line
    assert _layer(targets[0]) not in set(ORDER[ORDER.index("core") :])
