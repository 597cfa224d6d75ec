#!/usr/bin/env bash
# What the scaling tests (tests/test_scaling_*.py) and benchmarks start on 127.0.0.1: PostgreSQL 15 and
# Redis from Debian (apt, only when missing; one quiet `apt-get update` first), and the Python side
# (moto's S3 server, obstore, dagster-postgres, dagster-celery) from the `scale` and `test` extras.
# Idempotent; run by scripts/test.sh before pytest, and by the tests themselves when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "scale-services: need ${missing[*]} (Debian packages) and am not root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "scale-services: installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # the packages' own services are not wanted: the tests start their servers on scratch folders
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in postgresql redis-server; do
    if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
  done
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -c "import moto, obstore, dagster_postgres, dagster_celery" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
fi
