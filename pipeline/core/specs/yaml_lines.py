"""Safe YAML loading that remembers where every key came from (file and line) for error messages.

Only plain YAML is accepted: custom tags (``!!python/object`` and friends) are refused by the safe
loader, duplicate keys are errors (PyYAML would silently keep the last), and anchors/aliases are refused
(they buy nothing that ``_defaults.yaml`` does not, and they are how "billion laughs" bombs work).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecProblem

__all__ = ["MAX_SPEC_BYTES", "Origin", "SourceDict", "SourceList", "load_yaml_file", "read_spec_bytes"]

MAX_SPEC_BYTES = 1_000_000

Origin = tuple[str, int]  # (file label, 1-based line)

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceDict(dict):
    """A mapping from YAML that knows the origin of each key's value (and its own)."""

    origin: Origin
    origins: dict[Any, Origin]


class SourceList(list):
    origin: Origin
    origins: list[Origin]


class _YAMLProblem(Exception):
    def __init__(self, line: int | None, message: str):
        self.line = line
        self.message = message


class _Loader(_Base):
    """The safe loader with origins: one class, the file's label on each instance."""

    label = ""

    def construct_document(self, node: yaml.Node) -> Any:
        seen: set[int] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if id(n) in seen:
                raise _YAMLProblem(
                    n.start_mark.line + 1, "YAML anchors/aliases are not allowed in specs; use _defaults.yaml"
                )
            seen.add(id(n))
            if isinstance(n, yaml.MappingNode):
                for k, v in n.value:
                    stack.extend((k, v))
            elif isinstance(n, yaml.SequenceNode):
                stack.extend(n.value)
        return super().construct_document(node)


def _construct_map(loader: Any, node: yaml.MappingNode) -> Any:
    label = loader.label
    data = SourceDict()
    data.origin = (label, node.start_mark.line + 1)
    data.origins = {}
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise _YAMLProblem(key_node.start_mark.line + 1, "mapping keys must be plain strings")
        if key in data:
            raise _YAMLProblem(key_node.start_mark.line + 1, f"duplicate key '{key}'")
        data[key] = loader.construct_object(value_node, deep=True)
        data.origins[key] = (label, value_node.start_mark.line + 1)


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> Any:
    label = loader.label
    data = SourceList()
    data.origin = (label, node.start_mark.line + 1)
    data.origins = []
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.origins.append((label, item.start_mark.line + 1))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _load(text: str, label: str) -> Any:
    """``yaml.load`` with ``_Loader`` (what it does, with the label set on the instance)."""
    loader = _Loader(text)
    loader.label = label
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_spec_bytes(path: Path, label: str) -> tuple[bytes | None, list[SpecProblem]]:
    """A spec file's bytes, read at most ``MAX_SPEC_BYTES`` (a device or a huge file is refused, not read)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        return None, [SpecProblem(label, f"cannot read file: {exc.strerror or exc}")]
    if len(data) > MAX_SPEC_BYTES:
        limit = f"file is larger than {MAX_SPEC_BYTES} bytes; spec files are limited to that size: split it"
        return None, [SpecProblem(label, limit)]
    return data, []


def load_yaml_file(path: Path, label: str, data: bytes | None = None) -> tuple[Any, list[SpecProblem]]:
    """Parse one YAML file (``data``: its bytes, when already read). Returns (data, problems); data is
    None when the file could not be read."""
    if data is None:
        data, problems = read_spec_bytes(path, label)
        if data is None:
            return None, problems
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, [SpecProblem(label, "file is not UTF-8 text")]
    try:
        return _load(text, label), []
    except _YAMLProblem as exc:
        return None, [SpecProblem(label, exc.message, line=exc.line)]
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        tag = (exc.problem or "").replace("could not determine a constructor for the tag", "unsupported tag")
        return None, [SpecProblem(label, f"{tag}; custom YAML tags are not allowed in specs", line=line)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [SpecProblem(label, f"invalid YAML: {problem}", line=mark.line + 1 if mark else None)]
    except RecursionError:
        return None, [SpecProblem(label, "YAML is nested too deeply")]
