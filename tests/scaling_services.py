"""Real servers for the scaling tests, started by the tests on 127.0.0.1: an S3-protocol server (moto's server
mode), PostgreSQL (Debian's ``postgresql``, a scratch data directory) and Redis (Debian's ``redis-server``).

Nothing is skipped: a missing program is installed (``scripts/scale-services.sh``: apt for PostgreSQL and
Redis, pip for moto) and a server that does not come up fails the test with its log. Every server is
stopped by the process id this module started it with.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.dagster_dev_harness import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")

__all__ = ["Postgres", "S3Server", "ensure_installed", "postgres", "redis_server", "s3_server", "stop"]


def ensure_installed() -> None:
    """PostgreSQL, Redis and moto, installed by the project's own script when one is missing."""
    have = (PG_BIN / "initdb").exists() and shutil.which("redis-server") and _moto_server() is not None
    if have:
        return
    result = subprocess.run(["bash", str(REPO / "scripts" / "scale-services.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/scale-services.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def _moto_server() -> str | None:
    candidate = Path(sys.executable).parent / "moto_server"
    return str(candidate) if candidate.exists() else shutil.which("moto_server")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Stop a server this module started: SIGTERM, then SIGKILL, by its own process id."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class S3Server:
    endpoint: str
    bucket: str

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables a client needs for this server (moto accepts any keys)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def url(self, prefix: str = "team") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> object:
        """A boto3 client (moto depends on boto3) to look at or damage objects behind the pipeline's back."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


@contextlib.contextmanager
def s3_server(log_dir: Path, bucket: str = "sprites-cache") -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with one bucket."""
    ensure_installed()
    exe = _moto_server()
    assert exe is not None, "moto_server is not installed (pip install -e '.[scale]')"
    port = free_port()
    log = open(log_dir / "moto.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {(log_dir / 'moto.log').read_text()[-2000:]}")
            try:
                return httpx.get(f"{endpoint}/moto-api/", timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        wait_for("moto_server to answer", up, 60, 0.2)
        server = S3Server(endpoint, bucket)
        server.client().create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        yield server
    finally:
        stop(proc)


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    db: str

    @property
    def env(self) -> dict[str, str]:
        """The variables the example dagster_home/examples/postgres/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "sprites",
            "DAGSTER_PG_DB": self.db,
        }

    def query(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg2

        with contextlib.closing(
            psycopg2.connect(host=self.host, port=self.port, user=self.user, password="sprites", dbname=self.db)
        ) as conn:
            cur = conn.cursor()
            cur.execute(sql)
            return list(cur.fetchall())


def _as_postgres_user() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: (uid, gid) of the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")  # created by the Debian package
    return entry.pw_uid, entry.pw_gid


@contextlib.contextmanager
def postgres(db: str = "dagster") -> Iterator[Postgres]:
    """A PostgreSQL 15 server on a scratch data directory and a free loopback port (no system cluster)."""
    ensure_installed()
    ids = _as_postgres_user()
    # not under pytest's tmp_path: that is private to root, and the server runs as the postgres user
    data_root = Path(tempfile.mkdtemp(prefix="sprites-pg-"))
    data = data_root / "pgdata"
    sockets = data_root / "sock"
    sockets.mkdir(exist_ok=True)
    pwfile = data_root / "pw"
    pwfile.write_text("sprites\n")
    if ids is not None:
        for path in (data_root, sockets, pwfile):
            os.chown(path, *ids)

    as_user: dict[str, Any] = {"user": ids[0], "group": ids[1], "cwd": data_root} if ids is not None else {}

    def run(*cmd: str) -> None:
        result = subprocess.run(list(cmd), capture_output=True, text=True, **as_user)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")

    run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "sprites", "--pwfile", str(pwfile), "-A", "scram-sha-256",
        "--no-sync", "-E", "UTF8")  # fmt: skip
    port = free_port()
    log = data_root / "postgres.log"
    log_fh = open(log, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
         "-c", f"unix_socket_directories={sockets}", "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=log_fh, stderr=subprocess.STDOUT, **as_user,
    )  # fmt: skip
    log_fh.close()
    server = Postgres("127.0.0.1", port, "sprites", "postgres")
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {log.read_text()[-2000:]}")
            try:
                server.query("select 1")
                return True
            except Exception:  # not accepting connections yet
                return False

        wait_for("PostgreSQL to accept connections", up, 60, 0.2)
        import psycopg2

        conn = psycopg2.connect(host=server.host, port=port, user="sprites", password="sprites", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute(f"CREATE DATABASE {db}")
        conn.close()
        yield Postgres("127.0.0.1", port, "sprites", db)
    finally:
        stop(proc)
        shutil.rmtree(data_root, ignore_errors=True)


@contextlib.contextmanager
def redis_server(data_root: Path) -> Iterator[str]:
    """A Redis server on a free loopback port, no persistence; yields its URL."""
    ensure_installed()
    exe = shutil.which("redis-server")
    assert exe is not None
    port = free_port()
    data_root.mkdir(parents=True, exist_ok=True)
    log = open(data_root / "redis.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data_root)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(data_root / 'redis.log').read_text()[-2000:]}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for("redis-server to answer", up, 30, 0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)
