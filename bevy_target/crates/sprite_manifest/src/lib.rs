//! The sprite pipeline's manifest, for Rust games: types (serde) and a loader.
//!
//! The pipeline writes `sprites/manifest.json` into a Bevy assets folder. Every `path` in it is
//! relative to that folder, so it goes straight to `AssetServer::load`. This crate has no Bevy
//! dependency; the game crate (`sprite_viewer`) shows how to turn entries into Bevy sprites.
//!
//! ```no_run
//! let manifest = sprite_manifest::Manifest::load_from_assets_dir("assets".as_ref())?;
//! for sprite in &manifest.sprites {
//!     println!("{} at {} ({} frames)", sprite.name, sprite.path, sprite.frames);
//! }
//! # Ok::<(), sprite_manifest::ManifestError>(())
//! ```

mod error;
mod types;

use std::collections::HashSet;
use std::path::Path;

pub use error::ManifestError;
pub use types::{AtlasLayout, Manifest, ManifestEntry, PaletteInfo, PaletteKind};

/// Where the manifest sits, relative to the assets folder.
pub const MANIFEST_PATH: &str = "sprites/manifest.json";
/// Where the bevy_asset_loader dynamic assets file sits, relative to the assets folder.
pub const ASSETS_RON_PATH: &str = "sprites/sprites.assets.ron";
/// The manifest major version this crate reads (`"1.0"`, `"1.1"`, ...).
pub const SUPPORTED_MAJOR_VERSION: &str = "1";

impl Manifest {
    /// Reads and checks `<assets_dir>/sprites/manifest.json`.
    pub fn load_from_assets_dir(assets_dir: &Path) -> Result<Self, ManifestError> {
        Self::load(&assets_dir.join(MANIFEST_PATH))
    }

    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_slice(&bytes).map_err(|err| match err {
            ManifestError::Parse { source, .. } => ManifestError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Parses and checks manifest JSON.
    pub fn from_slice(json: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            serde_json::from_slice(json).map_err(|source| ManifestError::Parse {
                path: MANIFEST_PATH.into(),
                source,
            })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&ManifestEntry> {
        self.sprites.iter().find(|s| s.name == name)
    }

    /// Checks what serde cannot: the version, the count, unique names, safe paths, and that
    /// every atlas holds its frames at the stated resolution.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version.split('.').next() != Some(SUPPORTED_MAJOR_VERSION) {
            return Err(ManifestError::UnsupportedVersion {
                version: self.version.clone(),
            });
        }
        if self.sprite_count != self.sprites.len() {
            return Err(invalid(
                "<manifest>",
                format!(
                    "sprite_count is {} but {} sprites are listed",
                    self.sprite_count,
                    self.sprites.len()
                ),
            ));
        }
        let mut names = HashSet::new();
        for sprite in &self.sprites {
            if !names.insert(sprite.name.as_str()) {
                return Err(invalid(&sprite.name, "listed twice".into()));
            }
            sprite.validate()?;
        }
        Ok(())
    }
}

impl ManifestEntry {
    /// True for a sheet of more than one frame (animate it through a texture atlas).
    pub fn is_animated(&self) -> bool {
        self.frames > 1
    }

    /// Seconds each frame is shown, from `fps` (`None` for still sprites or `fps <= 0`).
    pub fn frame_seconds(&self) -> Option<f32> {
        (self.is_animated() && self.fps > 0.0).then(|| 1.0 / self.fps)
    }

    /// Index of the last animation frame in the atlas (frames start at index 0).
    pub fn last_frame(&self) -> usize {
        self.frames.saturating_sub(1) as usize
    }

    /// Size of the whole PNG in pixels: `[tile_width * columns, tile_height * rows]`.
    pub fn sheet_size(&self) -> [u32; 2] {
        let a = &self.atlas;
        [a.tile_width * a.columns, a.tile_height * a.rows]
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let fail = |message: String| Err(invalid(&self.name, message));
        if self.name.is_empty() {
            return fail("empty name".into());
        }
        if let Some(message) = unsafe_relative_path(&self.path) {
            return fail(format!("path {:?} {message}", self.path));
        }
        if !self.path.ends_with(".png") {
            return fail(format!("path {:?} is not a .png", self.path));
        }
        let a = &self.atlas;
        if self.frames == 0 {
            return fail("frames is 0".into());
        }
        if [a.tile_width, a.tile_height] != self.resolution {
            return fail(format!(
                "atlas tile {}x{} differs from resolution {:?}",
                a.tile_width, a.tile_height, self.resolution
            ));
        }
        if a.columns
            .checked_mul(a.rows)
            .map_or(true, |n| n < self.frames)
        {
            return fail(format!(
                "atlas {}x{} cannot hold {} frames",
                a.columns, a.rows, self.frames
            ));
        }
        if self.is_animated() && !(self.fps.is_finite() && self.fps > 0.0) {
            return fail(format!("fps {} for an animation", self.fps));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return fail(format!("sha256 {:?} is not 64 hex digits", self.sha256));
        }
        Ok(())
    }
}

/// Why `path` is not a forward-slash path inside the assets folder, if it is not.
fn unsafe_relative_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("is empty")
    } else if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        Some("is not a relative forward-slash path")
    } else if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("has an empty, '.' or '..' component")
    } else {
        None
    }
}

fn invalid(sprite: &str, message: String) -> ManifestError {
    ManifestError::Invalid {
        sprite: sprite.to_owned(),
        message,
    }
}
