"""The pick's edit of a spec file (pipeline.core.specs.edit) and the candidates field of the spec model."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from pipeline.core.specs.edit import EditError, set_candidate_pick
from pipeline.core.specs.model import SpriteSpec

SEED = 1234

# (before, after): everything but the pick is kept byte for byte: comments, quoting, order, blank lines
CASES = {
    "shorthand count": (
        "# the goblin\nname: goblin\ncategory: enemy\nprompt: 'green goblin'  # keep\ncandidates: 4   # four seeds\n",
        "# the goblin\nname: goblin\ncategory: enemy\nprompt: 'green goblin'  # keep\n"
        "candidates: {count: 4, picked: 1234}   # four seeds\n",
    ),
    "block mapping": (
        "name: goblin\ncandidates:\n  count: 3\n  publish: none  # wait for a pick\n\nprompt: x\n",
        "name: goblin\ncandidates:\n  count: 3\n  publish: none  # wait for a pick\n  picked: 1234\n\nprompt: x\n",
    ),
    "block mapping, last in the file without a newline": (
        "name: goblin\ncandidates:\n    count: 3",
        "name: goblin\ncandidates:\n    count: 3\n    picked: 1234\n",
    ),
    "an earlier pick is replaced": (
        "name: goblin\ncandidates:\n  count: 3\n  picked: 99  # was 99\n",
        "name: goblin\ncandidates:\n  count: 3\n  picked: 1234  # was 99\n",
    ),
    "flow mapping": (
        "name: goblin\ncandidates: {count: 2}\n",
        "name: goblin\ncandidates: {count: 2, picked: 1234}\n",
    ),
    "inherited from defaults: a line is added": (
        "name: goblin  # ours\nprompt: x\n",
        "name: goblin  # ours\nprompt: x\ncandidates: {count: 5, picked: 1234}\n",
    ),
    "one sprite of a list": (
        "defaults:\n  candidates: 3\nsprites:\n  - name: gem\n    prompt: gem\n  - name: goblin\n    prompt: g\n"
        "  - name: coin\n    prompt: c\n",
        "defaults:\n  candidates: 3\nsprites:\n  - name: gem\n    prompt: gem\n  - name: goblin\n    prompt: g\n"
        "    candidates: {count: 5, picked: 1234}\n  - name: coin\n    prompt: c\n",
    ),
    "a flow-style sprite of a list": (
        "sprites:\n  - {name: goblin, prompt: g, candidates: 2}\n",
        "sprites:\n  - {name: goblin, prompt: g, candidates: {count: 2, picked: 1234}}\n",
    ),
    "last key is a nested block": (
        "name: goblin\ncandidates:\n  count: 2\nanimation:\n  frames: 2\n",
        "name: goblin\ncandidates:\n  count: 2\n  picked: 1234\nanimation:\n  frames: 2\n",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_pick_is_a_minimal_edit(case: str) -> None:
    before, after = CASES[case]
    edited = set_candidate_pick(before, "goblin", SEED, count=5)
    assert edited == after
    data = yaml.safe_load(edited)
    mine = next(s for s in data.get("sprites", [data]) if s["name"] == "goblin")
    assert mine["candidates"]["picked"] == SEED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: goblin\ncandidates: [1, 2]\n", "is a list"),
        ("name: goblin\ncandidates: many\n", "neither a count nor a mapping"),
        ("name: other\nprompt: x\n", "no sprite named 'goblin'"),
        ("name: goblin\nprompt: [unclosed\n", "not valid YAML"),
        ("- a list\n", "not a YAML mapping"),
    ],
)
def test_what_cannot_be_edited_safely_is_refused(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message.replace("[", r"\[")):
        set_candidate_pick(text, "goblin", SEED, count=4)


def _spec(**fields: object) -> SpriteSpec:
    return SpriteSpec.model_validate({"name": "goblin", "category": "enemy", "prompt": "goblin", **fields})


def test_candidate_seeds_follow_the_spec_seed_and_the_pick_is_the_effective_seed() -> None:
    plain = _spec(seed=10)
    assert plain.candidate_seeds == [] and plain.effective_seed == 10
    four = _spec(seed=10, candidates=4)
    assert four.candidates is not None and four.candidates.count == 4 and four.candidates.publish == "first"
    assert four.candidate_seeds == [10, 11, 12, 13] and four.effective_seed == 10  # candidate 0 = the spec's own
    picked = _spec(seed=10, candidates={"count": 4, "picked": 12})
    assert picked.candidate_seeds == [10, 11, 12, 13] and picked.effective_seed == 12
    unseeded = _spec(candidates=2)
    assert unseeded.candidate_seeds[0] == _spec().effective_seed  # derived from the name, as without candidates
    wrapped = _spec(seed=2**63 - 1, candidates=2)
    assert wrapped.candidate_seeds == [2**63 - 1, 0]


@pytest.mark.parametrize(
    "value", [1, 17, True, {"count": 3, "publish": "later"}, {"count": 3, "picked": -1}, {"cout": 3}]
)
def test_bad_candidates_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        _spec(candidates=value)


def test_the_terminal_preview_draws_two_pixels_per_cell() -> None:
    import io

    from PIL import Image

    from pipeline.faces.cli.pick_cmd import terminal_preview

    image = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))  # top left red over transparent
    image.putpixel((1, 0), (0, 0, 255, 255))  # top right blue over green
    image.putpixel((1, 1), (0, 255, 0, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    text = terminal_preview(buf.getvalue(), width=2)
    assert text.plain == "▀▀"
    styles = [str(span.style) for span in text.spans]
    assert styles == ["rgb(255,0,0)", "rgb(0,0,255) on rgb(0,255,0)"]
