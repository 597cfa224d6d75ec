#!/usr/bin/env bash
# Second README command (and what CI runs): set up, lint, type-check, run the whole test suite,
# then build the samples into a scratch Bevy folder and run the Rust side's tests against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check pipeline tests benchmarks
.venv/bin/ruff format --check pipeline tests benchmarks
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if [ -x bevy_target/ci_test.sh ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  DAGSTER_HOME="$scratch/dagster_home" SPRITES_ASSETS_DIR="$scratch/assets" SPRITES_STATE_DIR="$scratch/state" \
    .venv/bin/sprites build
  SPRITES_ASSETS_DIR="$scratch/assets" bevy_target/ci_test.sh
fi
