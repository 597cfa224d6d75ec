"""The remote cache tier (SPRITES_CACHE_URL) against a real S3-protocol server (moto's server mode) started
here on 127.0.0.1: read-through, write-back, verification of every remote object, concurrent writers,
an unreachable remote, `sprites cache push/pull/stats`, and two clones of a project sharing renders."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from pipeline.defs.asset_keys import sprite_key
from pipeline.errors import CacheError, ConfigError
from pipeline.faces.cli import main
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.cache_remote import RemoteTier, TieredCache, open_cache, parse_cache_url
from tests.comfyui_server import FakeComfyServer
from tests.conftest import REPO, make_project
from tests.scaling_services import S3Server, s3_server

KEY_A = "a" * 64
KEY_B = "b" * 64
FILES = {"frame000.png": b"\x89PNG first frame", "frame001.png": b"\x89PNG second frame"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def aws_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return s3


def _prefix(request: pytest.FixtureRequest) -> str:
    return "t-" + "".join(c for c in request.node.name if c.isalnum())[:40]


@pytest.fixture
def url(aws_env: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh prefix in the bucket for each test."""
    return aws_env.url(_prefix(request))


def _object(s3: S3Server, url: str, stage: str, key: str) -> bytes:
    _, prefix = parse_cache_url(url)
    body = s3.client().get_object(Bucket=s3.bucket, Key=f"{prefix}/{stage}/{key}.tar")["Body"]  # type: ignore[attr-defined]
    return bytes(body.read())


def _put_object(s3: S3Server, url: str, stage: str, key: str, data: bytes) -> None:
    _, prefix = parse_cache_url(url)
    s3.client().put_object(Bucket=s3.bucket, Key=f"{prefix}/{stage}/{key}.tar", Body=data)  # type: ignore[attr-defined]


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_an_entry_stored_on_one_machine_is_read_through_on_another(tmp_path: Path, url: str, s3: S3Server) -> None:
    first = open_cache(tmp_path / "one", url)
    assert isinstance(first, TieredCache)
    first.put("generate", KEY_A, FILES, meta={"sprite": "bat"})
    members = list(_members(_object(s3, url, "generate", KEY_A)))
    assert members == ["entry.json", "frame000.png", "frame001.png"]  # one object per entry, entry.json first

    second = open_cache(tmp_path / "two", url)
    assert not (tmp_path / "two" / "generate").exists()
    assert second.has("generate", KEY_A)
    entry = second.get("generate", KEY_A)
    assert entry is not None and entry.files == FILES and entry.meta == {"sprite": "bat"}
    # now a local entry too: a plain local cache (no remote) finds it
    local = ContentCache(tmp_path / "two").get("generate", KEY_A)
    assert local is not None and local.files == FILES
    assert second.get("generate", KEY_B) is None and not second.has("pixelate", KEY_B)


def test_equal_entries_are_equal_objects(tmp_path: Path, url: str, s3: S3Server) -> None:
    open_cache(tmp_path / "one", url).put("pixelate", KEY_A, {"sheet.png": b"sheet"}, meta={"palette": ["#000000"]})
    first = _object(s3, url, "pixelate", KEY_A)
    remote = RemoteTier(url)
    remote.corrupt_keys.add(("pixelate", KEY_A))  # force an overwrite from a second machine's identical entry
    TieredCache(tmp_path / "two", remote).put("pixelate", KEY_A, {"sheet.png": b"sheet"}, meta={"palette": ["#000000"]})
    assert _object(s3, url, "pixelate", KEY_A) == first


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _flip_a_byte(data: bytes) -> bytes:
    members = _members(data)
    members["frame001.png"] = b"\x89PNG second frAme"
    return _tar(members)


def _other_address(data: bytes) -> bytes:
    members = _members(data)
    entry = json.loads(members["entry.json"])
    entry["key"] = KEY_B
    members["entry.json"] = json.dumps(entry).encode()
    return _tar(members)


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "a flipped byte in a frame": _flip_a_byte,
    "truncated object": lambda data: data[:1600],  # inside the first frame
    "not a tar at all": lambda data: b"<html>proxy error</html>",
    "empty object": lambda data: b"",
    "entry.json names another key": _other_address,
    "a member escaping the folder": lambda data: _tar({"entry.json": b"{}", "../../escaped.png": b"x"}),
    "a frame missing": lambda data: _tar({"entry.json": _members(data)["entry.json"]}),
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_a_corrupt_remote_object_is_a_miss_never_a_wrong_entry(
    tmp_path: Path, url: str, s3: S3Server, damage: str
) -> None:
    open_cache(tmp_path / "one", url).put("generate", KEY_A, FILES)
    # the damaged object sits at KEY_A's address (for "another key": a valid entry of KEY_B's content)
    _put_object(s3, url, "generate", KEY_A, CORRUPTIONS[damage](_object(s3, url, "generate", KEY_A)))
    reader = open_cache(tmp_path / "two", url)
    assert reader.get("generate", KEY_A) is None
    assert not reader.has("generate", KEY_A)
    assert not (tmp_path / "two" / "generate").exists()  # nothing stored locally
    assert not list(tmp_path.rglob("escaped.png"))
    assert [(s, k) for s, k, _ in reader.corrupt][:1] == [("generate", KEY_A)]
    assert url in reader.corrupt[0][2]  # the reason names the remote object
    # the next writer of that key (who rebuilt it) repairs the remote object
    writer = open_cache(tmp_path / "three", url)
    assert writer.get("generate", KEY_A) is None
    writer.put("generate", KEY_A, FILES)
    repaired = open_cache(tmp_path / "four", url).get("generate", KEY_A)
    assert repaired is not None and repaired.files == FILES


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path: Path, url: str, s3: S3Server) -> None:
    """Eight machines render the same key at once, each with different bytes (a nondeterministic GPU):
    the remote keeps exactly one of them, whole, and every later reader gets that one."""
    barrier = threading.Barrier(8)
    results: dict[int, bool] = {}

    def write(i: int) -> None:
        cache = open_cache(tmp_path / f"w{i}", url)
        assert isinstance(cache, TieredCache)
        ContentCache.put(cache, "generate", KEY_A, {"frame000.png": f"render {i}".encode() * 1000})
        barrier.wait()
        results[i] = cache.upload("generate", KEY_A)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False] * 7 + [True]  # conditional puts: the first one wins
    winner = next(i for i, ok in results.items() if ok)
    entry = open_cache(tmp_path / "reader", url).get("generate", KEY_A)
    assert entry is not None and entry.files == {"frame000.png": f"render {winner}".encode() * 1000}


def test_an_unreachable_remote_is_reported_once_and_the_local_cache_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.dagster_dev_harness import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    cache = open_cache(tmp_path / "c", "s3://nowhere/prefix")
    assert isinstance(cache, TieredCache)
    assert cache.get("generate", KEY_A) is None
    assert cache.remote.disabled and "s3://nowhere/prefix" in cache.remote.disabled
    entry = cache.put("generate", KEY_A, FILES)  # stored locally, no upload attempted
    assert entry.files == FILES and cache.get("generate", KEY_A) is not None
    assert len(cache.remote.problems) == 1


@pytest.mark.parametrize("bad", ["bucket/prefix", "http://host/bucket", "s3://", "gs://bucket/x"])
def test_a_bad_cache_url_names_the_variable(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SPRITES_CACHE_URL"):
        Settings.from_env({"SPRITES_CACHE_URL": bad, "SPRITES_PROJECT_DIR": str(tmp_path)})


# ---- two clones of a project, end to end through `sprites build` -------------------------------------

SPECS = {
    "comfy.yaml": (
        "defaults:\n  category: enemy\n  size: 16x16\n  generation: {backend: comfyui, steps: 4, render_scale: 8}\n"
        "sprites:\n  - name: bat\n    prompt: pixel art bat\n  - name: rat\n    prompt: pixel art rat\n"
        "    animation: {frames: 2, method: batch}\n  - name: owl\n    prompt: pixel art owl\n"
    ),
    "props.yaml": "name: crate\ncategory: prop\nsize: 16x16\nprompt: wooden crate\n",
}


def _clone(root: Path) -> Settings:
    settings = make_project(root, SPECS, copy_samples=False)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster_home" / "dagster.yaml").read_text())
    return settings


def _sprites(settings: Settings, *args: str, **env: str) -> tuple[int, str]:
    full = {"DAGSTER_HOME": str(settings.project_dir / "dagster_home"), "SPRITES_COMFYUI_URL": "", **env}
    saved = os.environ.get("DAGSTER_HOME")
    try:
        result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)], env=full)
    finally:
        if saved is not None:
            os.environ["DAGSTER_HOME"] = saved
    return result.exit_code, result.output


def _raw_cache_results(settings: Settings) -> dict[str, Any]:
    """sprite -> the "cache" metadata of its render of its latest materialization in the clone's own instance."""
    os.environ["DAGSTER_HOME"] = str(settings.project_dir / "dagster_home")
    instance = DagsterInstance.get()
    out = {}
    for name in ("bat", "rat", "owl", "crate"):
        event = instance.get_latest_materialization_event(sprite_key(name, "raw"))
        assert event is not None and event.asset_materialization is not None
        out[name] = event.asset_materialization.metadata["cache"].value
    return out


@pytest.mark.slow
def test_a_second_clone_builds_offline_from_the_remote_cache(
    tmp_path: Path, url: str, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    one, two, three = _clone(tmp_path / "one"), _clone(tmp_path / "two"), _clone(tmp_path / "three")
    with FakeComfyServer(latency=0.05) as comfy:
        code, out = _sprites(one, "build", SPRITES_CACHE_URL=url, SPRITES_COMFYUI_URL=comfy.url)
        assert code == 0 and "4 built" in out, out
        assert len(comfy.executions()) == 3
        # without the remote tier, the second clone cannot build offline (so the remote is what makes it work)
        code, out = _sprites(two, "build", "--offline")
        assert code == 1 and "--offline: 3 render(s) are not in the cache" in out, out

        code, out = _sprites(two, "build", "--offline", SPRITES_CACHE_URL=url)
        assert code == 0 and "4 built" in out, out
        assert len(comfy.executions()) == 3  # zero generations
        assert (two.project_dir / "sprites.lock").read_bytes() == (one.project_dir / "sprites.lock").read_bytes()
        assert _raw_cache_results(two) == {"bat": "hit", "rat": "hit", "owl": "hit", "crate": "hit"}

        # a damaged remote render is a miss: offline it is refused by name ...
        damaged = json.loads((one.project_dir / "sprites.lock").read_text())
        owl_key = next(v for k, v in _lock_keys(damaged).items() if k == "owl")
        data = _object(s3, url, "generate", owl_key)
        at = data.index(b"\x89PNG") + 100  # a byte inside the render
        _put_object(s3, url, "generate", owl_key, data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
        code, out = _sprites(three, "build", "--offline", SPRITES_CACHE_URL=url)
        assert code == 1 and "owl (comfyui render" in out and "bat (" not in out, out
        # ... and online it is rendered again (only that one), repairing the remote object
        code, out = _sprites(three, "build", SPRITES_CACHE_URL=url, SPRITES_COMFYUI_URL=comfy.url)
        assert code == 0 and "4 built" in out, out
        assert len(comfy.executions()) == 4
    # the other three came from the remote; owl is a new render of the same key (the test server, like a GPU,
    # is not bit-reproducible across renders), now valid in the remote again
    relocked = json.loads((three.project_dir / "sprites.lock").read_text())
    assert {k: v for k, v in relocked["sprites"].items() if k != "owl"} == {
        k: v for k, v in damaged["sprites"].items() if k != "owl"
    }
    assert _lock_keys(relocked)["owl"] == owl_key
    repaired = open_cache(tmp_path / "fresh", url).get("generate", owl_key)
    assert repaired is not None and repaired.hashes["frame000.png"] == relocked["sprites"]["owl"]["raw_sha256"][0]


def _lock_keys(lock: Any) -> dict[str, str]:
    """sprite -> generation key, from sprites.lock."""
    sprites = lock["sprites"]
    return {name: entry["keys"]["generate"] for name, entry in sprites.items()}


@pytest.mark.slow
def test_cache_push_pull_and_stats(tmp_path: Path, url: str, s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    one, two = _clone(tmp_path / "one"), _clone(tmp_path / "two")
    code, out = _sprites(one, "cache", "push")
    assert code == 1 and "SPRITES_CACHE_URL" in out  # nothing configured: says what to set
    with FakeComfyServer(latency=0.05) as comfy:
        code, out = _sprites(one, "build", SPRITES_COMFYUI_URL=comfy.url)  # local cache only
        assert code == 0, out
    code, out = _sprites(one, "cache", "push", SPRITES_CACHE_URL=url)
    assert code == 0 and "pushed 8 entries" in out and "0 already there" in out, out  # 4 renders + 4 sheets
    code, out = _sprites(one, "cache", "push", SPRITES_CACHE_URL=url)
    assert code == 0 and "pushed 0 entries" in out and "8 already there" in out, out
    code, out = _sprites(two, "cache", "pull", SPRITES_CACHE_URL=url)
    assert code == 0 and "pulled 8 entries" in out, out
    assert len(ContentCache(two.cache_dir).keys("generate")) == 4
    code, out = _sprites(two, "cache", "stats", SPRITES_CACHE_URL=url)
    assert code == 0 and f"remote cache {url}" in out, out
    code, out = _sprites(two, "build", "--offline")  # the pulled local cache alone is enough now
    assert code == 0 and "4 built" in out, out
    assert (two.project_dir / "sprites.lock").read_bytes() == (one.project_dir / "sprites.lock").read_bytes()


def test_a_refused_write_stops_only_the_writes(tmp_path: Path, aws_env: S3Server, url: str) -> None:
    """Read-only credentials are a normal set-up (CI reads what builders wrote): a failed upload keeps the
    entry local and stops writing, reads go on."""
    open_cache(tmp_path / "builder", url).put("generate", KEY_B, FILES)

    class ReadOnly(RemoteTier):
        def put_bytes(self, stage: str, key: str, data: bytes) -> bool:
            raise CacheError(f"remote cache {self.url}: cannot write {self.path(stage, key)}: AccessDenied")

    remote = ReadOnly(url)
    reader = TieredCache(tmp_path / "ci", remote)
    assert reader.put("generate", KEY_A, FILES).files == FILES  # built and kept locally
    assert remote.writes_disabled and "AccessDenied" in remote.writes_disabled and remote.disabled is None
    entry = reader.get("generate", KEY_B)  # still read from the remote
    assert entry is not None and entry.files == FILES


def test_an_object_too_large_to_be_an_entry_is_a_miss_not_an_outage(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.state.cache_remote as cache_remote

    open_cache(tmp_path / "one", url).put("generate", KEY_A, FILES)
    monkeypatch.setattr(cache_remote, "MAX_OBJECT_BYTES", 5000)  # the entry's object is 10 KB (tar records)
    reader = open_cache(tmp_path / "two", url)
    assert isinstance(reader, TieredCache)
    assert reader.get("generate", KEY_A) is None
    assert "over the 5000 byte limit" in reader.corrupt[0][2]
    assert reader.remote.disabled is None  # one odd object does not switch the remote off
