//! The manifest's types: the Rust mirror of `pipeline/core/export/manifest.py`.
//!
//! Every struct denies unknown fields, so a field the Python writer adds without a Rust
//! counterpart fails to load (and `tests/test_manifest_contract.py` compares the field lists
//! of both sides). Keep field names and order equal to the pydantic models.

use serde::{Deserialize, Serialize};

/// `sprites/manifest.json`: every exported sprite, sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, `"1.0"`; a different major version is refused by the loader.
    pub version: String,
    /// Build time (RFC 3339, UTC), or `SOURCE_DATE_EPOCH` for reproducible builds.
    pub generated_at: String,
    pub sprite_count: usize,
    pub sprites: Vec<ManifestEntry>,
}

/// One exported sprite: a PNG (a sheet when `frames > 1`) plus how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub name: String,
    /// PNG path relative to the assets folder: what `AssetServer::load` takes.
    pub path: String,
    pub category: String,
    /// Animation frames in the sheet (1 for a still sprite).
    pub frames: u32,
    /// `[width, height]` of one frame in pixels.
    pub resolution: [u32; 2],
    pub prompt: String,
    pub workflow: String,
    pub negative_prompt: String,
    /// Animation speed in frames per second.
    pub fps: f32,
    pub atlas: AtlasLayout,
    pub palette: PaletteInfo,
    pub seed: u64,
    pub backend: String,
    /// Stage key of the export: changes whenever anything upstream changes.
    pub input_hash: String,
    /// sha256 of the PNG bytes (lowercase hex).
    pub sha256: String,
}

/// How frames sit in the sheet, left to right then top to bottom:
/// `TextureAtlasLayout::from_grid(UVec2::new(tile_width, tile_height), columns, rows, None, None)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtlasLayout {
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
}

/// The palette the pixel stage mapped colours to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaletteInfo {
    pub kind: PaletteKind,
    /// Set for named palettes (`"pico-8"`); `null` or absent otherwise.
    #[serde(default)]
    pub name: Option<String>,
    /// `#rrggbb` colours.
    pub colors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaletteKind {
    Named,
    Explicit,
    Adaptive,
}
