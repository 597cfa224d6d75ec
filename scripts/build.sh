#!/usr/bin/env bash
# First README command: set everything up, then build every sample sprite into bevy_target/assets/
# on the embedded procedural backend (no GPU, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/sprites check
.venv/bin/sprites build "$@"
.venv/bin/sprites list
