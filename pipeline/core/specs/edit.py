"""Minimal textual edits of a spec file: one value changed or one line added, everything else kept.

A person's spec file carries comments, key order, quoting and blank lines that a ``yaml.dump`` would
lose, and a pick must show in ``git diff`` as the one line it changed. So the file is parsed into YAML
*nodes* (which know their character offsets), the edit is made on the text at those offsets, and the
result is parsed again to prove it says what was meant.

Only what ``sprites pick`` needs: set ``candidates.picked`` of one sprite, in a one-sprite file or in
``{defaults, sprites: [...]}``, whatever form ``candidates`` has there (``4``, ``{count: 4}``, a block
mapping, or absent because ``_defaults.yaml`` sets it).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["EditError", "field_line", "set_candidate_pick"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class EditError(ValueError):
    """The text cannot be edited safely (the caller names the file and tells the user what to do)."""


def _get(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _sprite_node(root: yaml.Node | None, sprite: str) -> yaml.MappingNode:
    if not isinstance(root, yaml.MappingNode):
        raise EditError("the file is not a YAML mapping")
    found = _get(root, "sprites")
    items = found[1].value if found and isinstance(found[1], yaml.SequenceNode) else [root]
    for item in items:
        name = _get(item, "name") if isinstance(item, yaml.MappingNode) else None
        if name is not None and isinstance(name[1], yaml.ScalarNode) and name[1].value == sprite:
            return item
    raise EditError(f"no sprite named '{sprite}' in it")


def _after_line(text: str, mark: yaml.Mark) -> int:
    """The offset just after the line ``mark`` ends on (a block scalar's end mark is already at a line start)."""
    if mark.column == 0:
        return int(mark.index)
    newline = text.find("\n", mark.index)
    return len(text) if newline < 0 else newline + 1


def _add_pair(text: str, mapping: yaml.MappingNode, after: yaml.Node, line: str) -> str:
    """``line`` (``key: value``) as a new entry of ``mapping``: in a flow mapping before its ``}``, in a
    block mapping on its own line after the one ``after`` ends on, indented like the mapping's keys."""
    if mapping.flow_style:
        close = text.rindex("}", 0, mapping.end_mark.index)
        return f"{text[:close].rstrip()}, {line}{text[close:]}"
    at = _after_line(text, after.end_mark)
    indent = " " * mapping.value[0][0].start_mark.column
    prefix = "" if at == 0 or text[at - 1] == "\n" else "\n"
    return f"{text[:at]}{prefix}{indent}{line}\n{text[at:]}"


def field_line(text: str, sprite: str, key: str) -> int | None:
    """The 1-based line of ``key`` in ``sprite``'s own mapping (None: not there, or the text does not parse)."""
    try:
        found = _get(_sprite_node(yaml.compose(text, Loader=_Loader), sprite), key)
    except (yaml.YAMLError, EditError):
        return None
    return found[0].start_mark.line + 1 if found else None


def set_candidate_pick(text: str, sprite: str, seed: int, count: int) -> str:
    """``text`` with ``candidates.picked: seed`` for ``sprite`` and nothing else changed.

    ``count``: the sprite's candidate count, written out only when the file has no ``candidates`` of its
    own for this sprite (it comes from defaults) so that the new mapping does not depend on how defaults
    merge. Raises ``EditError`` when the text cannot be edited safely.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise EditError(f"it is not valid YAML ({exc})") from exc
    node = _sprite_node(root, sprite)
    found = _get(node, "candidates")
    if found is None:
        last = node.value[-1][1]
        edited = _add_pair(text, node, last, f"candidates: {{count: {count}, picked: {seed}}}")
    else:
        _key, value = found
        if isinstance(value, yaml.ScalarNode):  # `candidates: 4`: the shorthand becomes a flow mapping
            start, end = value.start_mark.index, value.end_mark.index
            if value.tag != "tag:yaml.org,2002:int":
                raise EditError(f"'candidates' is {value.value!r}, neither a count nor a mapping")
            edited = f"{text[:start]}{{count: {value.value}, picked: {seed}}}{text[end:]}"
        elif isinstance(value, yaml.MappingNode):
            picked = _get(value, "picked")
            if picked is not None:
                old = picked[1]
                if not isinstance(old, yaml.ScalarNode):
                    raise EditError("'candidates.picked' is not a single value")
                start, end = old.start_mark.index, old.end_mark.index
                edited = f"{text[:start]}{seed}{text[end:]}"
            elif not value.value:
                start, end = value.start_mark.index, value.end_mark.index
                edited = f"{text[:start]}{{count: {count}, picked: {seed}}}{text[end:]}"
            else:
                edited = _add_pair(text, value, value.value[-1][1], f"picked: {seed}")
        else:
            raise EditError("'candidates' is a list; it must be a count or a mapping")
    _check(edited, sprite, seed)
    return edited


def _check(edited: str, sprite: str, seed: int) -> None:
    """The edited text parses and says ``picked: seed`` for the sprite (else the edit went wrong)."""
    try:
        data = yaml.load(edited, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise EditError(f"the edit would not parse ({exc})") from exc
    items = data.get("sprites", [data]) if isinstance(data, dict) else []
    mine = [s for s in items if isinstance(s, dict) and s.get("name") == sprite]
    got = mine[0].get("candidates") if len(mine) == 1 else None
    if not isinstance(got, dict) or got.get("picked") != seed:
        raise EditError("the edit did not come out as 'candidates.picked' (an unusual layout)")
