#!/usr/bin/env bash
# Tests the Rust side of the sprite contract, offline: builds crates/sprite_manifest from the Rust
# crates Debian packages (/usr/share/cargo/registry) and runs its tests against the assets the
# pipeline wrote (manifest.json, every PNG and .png.meta, sprites.assets.ron).
#
#   SPRITES_ASSETS_DIR  assets folder to check (default: bevy_target/assets next to this script)
#
# Idempotent: installs only the missing packages (apt-get, non-interactive). Run it after the
# Python build has written the assets; it exits non-zero when anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$here/crates/sprite_manifest"

# serde (+derive), serde_json for the crate; png, ron, sha2 for its tests.
packages=(
    librust-serde-dev
    librust-serde-derive-dev
    librust-serde-json-dev
    librust-ron-dev
    librust-png-dev
    librust-sha2-dev
)
command -v cargo >/dev/null 2>&1 || packages+=(cargo)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "ci_test.sh: installing ${missing[*]}"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

assets="${SPRITES_ASSETS_DIR:-$here/assets}"
if [[ ! -f "$assets/sprites/manifest.json" ]]; then
    echo "ci_test.sh: no sprites/manifest.json under $assets: build the sprites first" >&2
    exit 1
fi
SPRITES_ASSETS_DIR="$(cd "$assets" && pwd)"
export SPRITES_ASSETS_DIR
echo "ci_test.sh: testing sprite_manifest against $SPRITES_ASSETS_DIR"

cd "$crate"
# --config: use Debian's crate folder in place of crates.io (a plain `cargo` here still uses
# crates.io); --locked: the committed Cargo.lock must already match.
exec cargo test --config "$crate/.cargo/debian.toml" --offline --locked
