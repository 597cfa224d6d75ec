//! Finds the assets folder the pipeline wrote: `$SPRITES_ASSETS_DIR`, else `bevy_target/assets`.
#![allow(dead_code)]

use std::path::PathBuf;

use sprite_manifest::Manifest;

/// The assets folder and its manifest, or `None` (with a notice) when the pipeline has not run
/// and no folder was asked for. When `SPRITES_ASSETS_DIR` is set, a missing folder fails.
pub fn built_assets() -> Option<(PathBuf, Manifest)> {
    let (dir, required) = match std::env::var_os("SPRITES_ASSETS_DIR") {
        Some(dir) => (PathBuf::from(dir), true),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
            false,
        ),
    };
    if !required && !dir.join(sprite_manifest::MANIFEST_PATH).is_file() {
        eprintln!(
            "NOTICE: no manifest under {}; build the sprites first (or set SPRITES_ASSETS_DIR). Skipped.",
            dir.display()
        );
        return None;
    }
    let manifest = Manifest::load_from_assets_dir(&dir).unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !manifest.sprites.is_empty(),
        "the manifest lists no sprites"
    );
    Some((dir, manifest))
}
