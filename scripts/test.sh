#!/usr/bin/env bash
# Second README command (and what CI runs): set up, lint, type-check, run the whole test suite, prove
# the committed assets match the specs, then run the Rust side's tests against a fresh build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check pipeline tests benchmarks
.venv/bin/ruff format --check pipeline tests benchmarks
.venv/bin/mypy
# PostgreSQL and Redis (apt, when missing) for the scaling tests; they start their own servers
scripts/scale-services.sh
# The MCP Inspector CLI (npm, the version pinned in tests/inspector) for tests/test_mcp_inspector.py; without
# node the test skips, saying so (CI installs node: .ci/run)
if command -v npm >/dev/null 2>&1 && [ ! -x tests/inspector/node_modules/.bin/mcp-inspector ]; then
  (cd tests/inspector && npm ci --no-audit --no-fund --loglevel=error)
fi
set +e
.venv/bin/python -m pytest --durations=25 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
# The committed Bevy assets are what the committed specs produce: first against sprites.lock, then by
# building everything again from scratch (empty cache) and comparing the lock it writes.
.venv/bin/sprites check --locked
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp sprites.lock "$scratch/sprites.lock.committed"
export DAGSTER_HOME="$scratch/dagster_home" SPRITES_ASSETS_DIR="$scratch/assets" \
  SPRITES_STATE_DIR="$scratch/state" SPRITES_CACHE_DIR="$scratch/cache"
mkdir -p "$DAGSTER_HOME" && cp dagster_home/dagster.yaml "$DAGSTER_HOME/"
.venv/bin/sprites build --offline
if ! cmp -s sprites.lock "$scratch/sprites.lock.committed"; then
  echo "a clean build of the specs differs from the committed sprites.lock:" >&2
  diff "$scratch/sprites.lock.committed" sprites.lock >&2 || true
  exit 1
fi
.venv/bin/sprites check --locked
# The Rust side of the contract (bevy_target/crates/sprite_manifest) against what was just built.
bevy_target/ci_test.sh
