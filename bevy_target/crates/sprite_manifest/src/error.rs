use std::fmt;
use std::path::PathBuf;

/// Why a manifest could not be loaded. Each variant names the file or the sprite to look at.
#[derive(Debug)]
pub enum ManifestError {
    /// The file could not be read (missing assets folder: run the pipeline first).
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not valid JSON, or a field missing, unknown or of the wrong type.
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A `version` this crate does not understand.
    UnsupportedVersion { version: String },
    /// Parsed, but inconsistent: names the sprite (or `<manifest>`) and what is wrong.
    Invalid { sprite: String, message: String },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(
                f,
                "cannot read {}: {source} (has the sprite pipeline built the assets?)",
                path.display()
            ),
            Self::Parse { path, source } => write!(f, "{}: {source}", path.display()),
            Self::UnsupportedVersion { version } => write!(
                f,
                "manifest version {version:?} is not supported (expected {}.x); update sprite_manifest",
                crate::SUPPORTED_MAJOR_VERSION
            ),
            Self::Invalid { sprite, message } => write!(f, "sprite {sprite:?}: {message}"),
        }
    }
}

impl std::error::Error for ManifestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Parse { source, .. } => Some(source),
            _ => None,
        }
    }
}
