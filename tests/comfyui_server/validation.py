"""POST /prompt validation, ported from ComfyUI 0.3.64 ``execution.py`` (``validate_prompt``, ``validate_inputs``).

What the real server does and the test server therefore does too (checked against one, see docs/comfyui.md):

* a link to a node that does not exist, or to an output slot it lacks, raises inside the linked node's validation:
  the *consumer's* error is ``exception_during_inner_validation`` naming the consumer's input; when the output node
  itself holds the bad link, ``exception_during_validation`` without ``input_name``;
* values are converted before they are checked (``"300"`` -> 300) and the queued prompt keeps the converted value;
  ``received_value`` is the converted value;
* list inputs in the old form (``[[a, b], {...}]``) are checked; the newer ``["COMBO", {"options": [...]}]`` form is
  not (0.3.64 lets any value through to execution);
* the top-level ``error.details`` joins the errors of the output nodes themselves (``message: details``), so it is
  empty when only an upstream node is wrong.
"""

from __future__ import annotations

import traceback
from typing import Any

from tests.comfyui_server.nodes import NodeClass

__all__ = ["ValidationFailure", "error", "validate_prompt"]


class ValidationFailure(Exception):
    """POST /prompt answers 400 with this body."""

    def __init__(self, body: dict[str, Any]):
        super().__init__(body["error"]["message"])
        self.body = body


def error(kind: str, message: str, details: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra or {}}


def _type_matches(received: Any, wanted: Any) -> bool:
    """``comfy_execution.validation.validate_node_input`` (non-strict): equal, ``*``, or overlapping unions."""
    if received == wanted:
        return True
    if not isinstance(received, str) or not isinstance(wanted, str):
        return False
    if "*" in (received, wanted):
        return True
    return bool(set(received.split(",")) & set(wanted.split(",")))


_CONVERT = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


class _Validator:
    def __init__(self, prompt: dict[str, Any], classes: dict[str, NodeClass], models: dict[str, list[str]]):
        self.prompt, self.classes, self.models = prompt, classes, models
        self.validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}

    def inputs(self, nid: str) -> tuple[bool, list[dict[str, Any]]]:
        if nid in self.validated:
            return self.validated[nid]
        node = self.prompt[nid]
        inputs = node["inputs"]
        types = self.classes[node["class_type"]].inputs(self.models)
        errors: list[dict[str, Any]] = []
        valid = True
        for category in ("required", "optional"):
            for name, config in (types.get(category) or {}).items():
                kind = config[0]
                extra_cfg = config[1] if len(config) > 1 and isinstance(config[1], dict) else {}
                info = [kind, extra_cfg]  # get_input_info: {} when the class gives no options
                if name not in inputs:
                    if category == "required":
                        errors.append(
                            error("required_input_missing", "Required input is missing", name, {"input_name": name})
                        )
                    continue
                value = inputs[name]
                if isinstance(value, list):
                    if len(value) != 2:
                        errors.append(
                            error(
                                "bad_linked_input",
                                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                                name,
                                {"input_name": name, "input_config": info, "received_value": value},
                            )
                        )
                        continue
                    source_id = value[0]
                    produced = self.classes[self.prompt[source_id]["class_type"]].outputs  # KeyError: no such node
                    received = produced[value[1]]  # IndexError: no such output slot
                    if not _type_matches(received, kind):
                        errors.append(
                            error(
                                "return_type_mismatch",
                                "Return type mismatch between linked nodes",
                                f"{name}, received_type({received}) mismatch input_type({kind})",
                                {
                                    "input_name": name,
                                    "input_config": info,
                                    "received_type": received,
                                    "linked_node": value,
                                },
                            )
                        )
                        continue
                    try:
                        if self.inputs(source_id)[0] is False:
                            valid = False
                    except Exception as exc:
                        valid = False
                        self.validated[source_id] = (
                            False,
                            [
                                error(
                                    "exception_during_inner_validation",
                                    "Exception when validating inner node",
                                    str(exc),
                                    {
                                        "input_name": name,
                                        "input_config": info,
                                        "exception_message": str(exc),
                                        "exception_type": type(exc).__name__,
                                        "traceback": traceback.format_tb(exc.__traceback__),
                                        "linked_node": value,
                                    },
                                )
                            ],
                        )
                    continue
                try:
                    if isinstance(kind, str) and kind in _CONVERT:
                        value = _CONVERT[kind](value)
                        inputs[name] = value
                except (TypeError, ValueError) as exc:
                    errors.append(
                        error(
                            "invalid_input_type",
                            f"Failed to convert an input value to a {kind} value",
                            f"{name}, {value}, {exc}",
                            {
                                "input_name": name,
                                "input_config": info,
                                "received_value": value,
                                "exception_message": str(exc),
                            },
                        )
                    )
                    continue
                extra = {"input_name": name, "input_config": info, "received_value": value}
                if "min" in extra_cfg and value < extra_cfg["min"]:
                    errors.append(
                        error(
                            "value_smaller_than_min",
                            f"Value {value} smaller than min of {extra_cfg['min']}",
                            name,
                            extra,
                        )
                    )
                    continue
                if "max" in extra_cfg and value > extra_cfg["max"]:
                    errors.append(
                        error(
                            "value_bigger_than_max", f"Value {value} bigger than max of {extra_cfg['max']}", name, extra
                        )
                    )
                    continue
                if isinstance(kind, list) and value not in kind:
                    listed = f"(list of length {len(kind)})" if len(kind) > 20 else str(kind)
                    shown = None if len(kind) > 20 else info
                    errors.append(
                        error(
                            "value_not_in_list",
                            "Value not in list",
                            f"{name}: '{value}' not in {listed}",
                            {"input_name": name, "input_config": shown, "received_value": value},
                        )
                    )
        result = (not errors and valid, errors)
        self.validated[nid] = result
        return result


def validate_prompt(
    prompt: Any, classes: dict[str, NodeClass], models: dict[str, list[str]]
) -> tuple[list[str], dict[str, Any]]:
    """The output nodes to execute and the node_errors of the others; raises ``ValidationFailure`` (HTTP 400)."""
    if not isinstance(prompt, dict):
        raise ValidationFailure(
            {"error": error("invalid_prompt", "Invalid prompt: prompt must be an object"), "node_errors": {}}
        )
    outputs = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            raise ValidationFailure(
                {
                    "error": error(
                        "invalid_prompt",
                        "Cannot execute because a node is missing the class_type property.",
                        f"Node ID '#{node_id}'",
                    ),
                    "node_errors": {},
                }
            )
        node.setdefault("inputs", {})
        cls = classes.get(node["class_type"])
        if cls is None:
            raise ValidationFailure(
                {
                    "error": error(
                        "invalid_prompt",
                        f"Cannot execute because node {node['class_type']} does not exist.",
                        f"Node ID '#{node_id}'",
                    ),
                    "node_errors": {},
                }
            )
        if cls.output_node:
            outputs.append(node_id)
    if not outputs:
        raise ValidationFailure({"error": error("prompt_no_outputs", "Prompt has no outputs"), "node_errors": {}})
    check = _Validator(prompt, classes, models)
    good: list[str] = []
    failed: list[tuple[str, list[dict[str, Any]]]] = []
    node_errors: dict[str, Any] = {}
    for out in outputs:
        try:
            ok, reasons = check.inputs(out)
        except Exception as exc:
            ok = False
            reasons = [
                error(
                    "exception_during_validation",
                    "Exception when validating node",
                    str(exc),
                    {"exception_type": type(exc).__name__, "traceback": traceback.format_tb(exc.__traceback__)},
                )
            ]
            check.validated[out] = (False, reasons)
        if ok:
            good.append(out)
            continue
        failed.append((out, reasons))
        for nid, (node_ok, node_reasons) in check.validated.items():
            if node_ok or not node_reasons:
                continue
            entry = node_errors.setdefault(
                nid, {"errors": node_reasons, "dependent_outputs": [], "class_type": prompt[nid]["class_type"]}
            )
            entry["dependent_outputs"].append(out)
    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, reasons in failed for e in reasons)
        raise ValidationFailure(
            {
                "error": error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details),
                "node_errors": node_errors,
            }
        )
    return good, node_errors
