"""The project's categories in the MCP tools' schemas.

The tools are defined once, at import, but categories are the project's (``categories:`` in
``sprite_specs/_defaults.yaml``). A ``category`` argument is therefore typed as a plain string with a
marker (``x-sprites-category``) in its schema, and :class:`CategorySchemas` replaces each marked schema,
at every ``tools/list``, with the project's list as an ``enum`` and its default category as the
``default``. A call is still checked where the spec is validated, against the list as it is then, so
an edit to ``_defaults.yaml`` counts at once and an unknown category is refused with the allowed list.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import mcp_types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import Tool

from pipeline.core.specs.categories import Categories

__all__ = ["MARKER", "CategorySchemas", "category_schema", "with_categories"]

MARKER = "x-sprites-category"
#: marker value -> (nullable, description): "default" takes the project's default category when omitted
_KINDS = {
    "default": (False, "Category: the sprite's Dagster asset group and Bevy folder (sprites/<category>/)"),
    "batch": (True, "Category of this sprite; default: the batch's category"),
    "filter": (True, "Only sprites of this category"),
}


def category_schema(kind: str, categories: Categories) -> dict[str, Any]:
    """The JSON schema of one category argument for a project with these categories."""
    nullable, description = _KINDS[kind]
    choice: dict[str, Any] = {"type": "string", "enum": list(categories.names)}
    where = f"the project's categories ({categories.source})"
    if not nullable:
        return {
            **choice,
            "default": categories.default,
            "description": f"{description}; one of {where}; default: '{categories.default}'",
        }
    return {"anyOf": [choice, {"type": "null"}], "default": None, "description": f"{description}; one of {where}"}


def _replace(node: Any, categories: Categories) -> Any:
    if isinstance(node, dict):
        kind = node.get(MARKER)
        if isinstance(kind, str) and kind in _KINDS:
            return category_schema(kind, categories)
        return {k: _replace(v, categories) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, categories) for v in node]
    return node


def with_categories(tool: Tool, categories: Categories) -> Tool:
    """The tool with every marked category argument listing the project's categories."""
    if MARKER not in repr(tool.parameters):
        return tool
    return tool.model_copy(update={"parameters": _replace(copy.deepcopy(tool.parameters), categories)})


class CategorySchemas(Middleware):
    """Lists the tools with the project's categories in their schemas (read per listing: edits count)."""

    def __init__(self, categories: Callable[[], Categories | None]):
        self.categories = categories  # None: no project configured or a broken _defaults.yaml

    async def on_list_tools(
        self,
        context: MiddlewareContext[mt.ListToolsRequest],
        call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        tools = await call_next(context)
        categories = self.categories()
        if categories is None:  # the call reports what is wrong with the file; the schema stays open
            return tools
        return [with_categories(tool, categories) for tool in tools]
