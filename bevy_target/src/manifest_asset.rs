//! The sprite manifest as a Bevy asset: copy this file (and depend on `sprite_manifest`) to load
//! the pipeline's sprites in your own game.
//!
//! Loading `sprites/manifest.json` through the `AssetServer` (instead of `std::fs`) means it hot
//! reloads like the images do: with the `file_watcher` feature, every rewrite by the pipeline sends
//! `AssetEvent::Modified` for the manifest, and `AssetEvent::Modified` for each changed image.

use bevy::asset::{AssetLoader, LoadContext, io::Reader};
use bevy::ecs::error::BevyError;
use bevy::prelude::*;
use bevy::reflect::TypePath;
use sprite_manifest::{Manifest, ManifestEntry};

/// `sprites/manifest.json`, parsed and checked by `sprite_manifest`.
#[derive(Asset, TypePath, Debug)]
pub struct SpriteManifest(pub Manifest);

/// Reads `.json` files as [`SpriteManifest`] (picked by type: `asset_server.load::<SpriteManifest>`).
/// A manifest that fails to parse or check is logged with the reason (the `ManifestError`), and a
/// hot reload that fails keeps the previous manifest.
#[derive(Default, TypePath)]
pub struct SpriteManifestLoader;

impl AssetLoader for SpriteManifestLoader {
    type Asset = SpriteManifest;
    type Settings = ();
    type Error = BevyError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        _load_context: &mut LoadContext<'_>,
    ) -> Result<Self::Asset, Self::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        Ok(SpriteManifest(Manifest::from_slice(&bytes)?))
    }

    fn extensions(&self) -> &[&str] {
        &["json"]
    }
}

/// Registers [`SpriteManifest`] and its loader.
pub struct SpriteManifestPlugin;

impl Plugin for SpriteManifestPlugin {
    fn build(&self, app: &mut App) {
        app.init_asset::<SpriteManifest>()
            .init_asset_loader::<SpriteManifestLoader>();
    }
}

/// Steps a sheet's atlas index through its frames at the manifest's fps.
#[derive(Component)]
pub struct FrameAnimation {
    pub last: usize,
    pub timer: Timer,
}

/// The `Sprite` for one manifest entry (plus its animation when it is a sheet): a plain image
/// for one frame, `Sprite::from_atlas_image` over a grid layout for several.
pub fn sprite_for(
    entry: &ManifestEntry,
    asset_server: &AssetServer,
    layouts: &mut Assets<TextureAtlasLayout>,
) -> (Sprite, Option<FrameAnimation>) {
    let image: Handle<Image> = asset_server.load(entry.path.clone());
    if !entry.is_animated() {
        return (Sprite::from_image(image), None);
    }
    let a = entry.atlas;
    let layout = TextureAtlasLayout::from_grid(
        UVec2::new(a.tile_width, a.tile_height),
        a.columns,
        a.rows,
        None,
        None,
    );
    let sprite = Sprite::from_atlas_image(
        image,
        TextureAtlas {
            layout: layouts.add(layout),
            index: 0,
        },
    );
    let animation = entry.frame_seconds().map(|seconds| FrameAnimation {
        last: entry.last_frame(),
        timer: Timer::from_seconds(seconds, TimerMode::Repeating),
    });
    (sprite, animation)
}

/// Advances every [`FrameAnimation`] (the loop of Bevy's `examples/2d/sprite_sheet.rs`).
pub fn animate_frames(time: Res<Time>, mut query: Query<(&mut FrameAnimation, &mut Sprite)>) {
    for (mut animation, mut sprite) in &mut query {
        animation.timer.tick(time.delta());
        if animation.timer.just_finished() {
            if let Some(atlas) = &mut sprite.texture_atlas {
                atlas.index = if atlas.index >= animation.last {
                    0
                } else {
                    atlas.index + 1
                };
            }
        }
    }
}
