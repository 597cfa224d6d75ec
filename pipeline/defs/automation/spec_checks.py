"""Invalid spec files in the UI: one asset per bad file, with a ``valid`` check that fails naming each problem.

The code location loads whatever specs are valid (``pipeline.core.specs.load_spec_set``); every file with a
problem becomes ``spec/<file>`` in the group ``spec_errors``, whose description (the first line is shown in
the asset graph) and metadata give file, line, sprite and field. The spec sensor records a failed ``valid``
evaluation for each such file (runless: no run is needed to turn it red), and the check can be executed
from the UI at any time, which reads the file again. Once the file is fixed and the location reloaded,
the asset is gone (an asset with check results only leaves the catalog with its definition).
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetSpec,
    MetadataValue,
    multi_asset_check,
)

from pipeline.core.specs import SpecSet, load_spec_set
from pipeline.core.specs.problems import by_file, problems_digest, summary_line
from pipeline.defs.asset_keys import spec_problem_key
from pipeline.defs.resources import SpritePipelineResource
from pipeline.errors import SpecProblem

__all__ = [
    "SPEC_ERRORS_GROUP",
    "SPEC_VALID_CHECK",
    "build_spec_problem_assets",
    "spec_problem_evaluations",
    "spec_problem_key",
]

SPEC_ERRORS_GROUP = "spec_errors"
SPEC_VALID_CHECK = "valid"


def _table(problems: list[SpecProblem]) -> str:
    def cell(text: object) -> str:
        return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")

    rows = [f"| {cell(p.line)} | {cell(p.sprite)} | {cell(p.field)} | {cell(p.message)} |" for p in problems]
    return "| line | sprite | field | problem |\n|---|---|---|---|\n" + "\n".join(rows)


def _metadata(file: str, problems: list[SpecProblem]) -> dict[str, Any]:
    first = problems[0]
    return {
        "spec_file": MetadataValue.path(f"sprite_specs/{file}"),
        "line": first.line or 0,
        "sprite": first.sprite or "",
        "field": first.field or "",
        "problem_count": len(problems),
        "problems": MetadataValue.md(_table(problems)),
        "digest": problems_digest(problems),
    }


def _description(file: str, problems: list[SpecProblem]) -> str:
    lines = "\n".join(f"- {p}" for p in problems)
    return (
        f"{summary_line(file, problems)}\n\n"
        f"The sprites of `sprite_specs/{file}` with these problems are not loaded; every other sprite is. "
        f"Fix the file and reload the code location (the spec sensor does that itself when "
        f"SPRITES_DAGSTER_URL is set):\n\n{lines}"
    )


def _evaluation(file: str, problems: list[SpecProblem]) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=spec_problem_key(file),
        check_name=SPEC_VALID_CHECK,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(str(p) for p in problems) if problems else f"sprite_specs/{file} is valid now",
        metadata=_metadata(file, problems) if problems else {"spec_file": MetadataValue.path(f"sprite_specs/{file}")},
    )


def spec_problem_evaluations(spec_set: SpecSet) -> list[AssetCheckEvaluation]:
    """A failed ``valid`` evaluation per bad file of ``spec_set`` (what the spec sensor records)."""
    return [_evaluation(file, problems) for file, problems in by_file(spec_set.problems).items()]


def build_spec_problem_assets(
    spec_set: SpecSet, with_checks: bool = True
) -> tuple[list[AssetSpec], list[AssetChecksDefinition]]:
    """``spec/<file>`` for every file with a problem, and their ``valid`` checks (none when all specs load).

    ``with_checks=False`` when the spec sensor, which records the checks' results, does not start running:
    a check never evaluated shows as a green "0 / 1 Passed" in the asset graph, on the very item that
    says the file is invalid; its description still does.
    """
    grouped = by_file(spec_set.problems)
    if not grouped:
        return [], []
    assets = [
        AssetSpec(
            spec_problem_key(file),
            group_name=SPEC_ERRORS_GROUP,
            description=_description(file, problems),
            kinds={"yaml"},
            tags={"spec_status": "invalid"},
            metadata=_metadata(file, problems),
        )
        for file, problems in grouped.items()
    ]
    if not with_checks:
        return assets, []
    files = {spec_problem_key(file): file for file in grouped}

    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                SPEC_VALID_CHECK,
                asset=key,
                description=f"sprite_specs/{file} parses and every sprite in it validates",
            )
            for key, file in files.items()
        ],
        can_subset=True,
        name="spec_file_checks",
    )
    def spec_file_checks(
        context: AssetCheckExecutionContext, sprites: SpritePipelineResource
    ) -> Iterator[AssetCheckResult]:
        now = by_file(load_spec_set(sprites.settings.specs_dir).problems)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.to_user_string()):
            ev = _evaluation(files[key.asset_key], now.get(files[key.asset_key], []))
            yield AssetCheckResult(
                asset_key=ev.asset_key,
                check_name=ev.check_name,
                passed=ev.passed,
                severity=ev.severity,
                description=ev.description,
                metadata=ev.metadata,
            )

    return assets, [spec_file_checks]


def check_key(file: str) -> AssetCheckKey:
    return AssetCheckKey(spec_problem_key(file), SPEC_VALID_CHECK)
