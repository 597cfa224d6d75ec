//! Shows every sprite in `assets/sprites/manifest.json` in a grid: crisp (nearest sampling),
//! sheets animated at their fps, and rebuilt live whenever the pipeline rewrites the manifest or
//! a PNG (hot reload through the `file_watcher` feature).

mod manifest_asset;

use bevy::prelude::*;
use manifest_asset::{
    FrameAnimation, SpriteManifest, SpriteManifestPlugin, animate_frames, sprite_for,
};

/// Grid cell size in window pixels; sprites are scaled by a whole number to fit (stays crisp).
const CELL: f32 = 160.0;
const LABEL_SIZE: f32 = 14.0;

fn main() {
    App::new()
        .add_plugins(
            DefaultPlugins
                .set(ImagePlugin::default_nearest()) // prevents blurry sprites
                .set(AssetPlugin {
                    // Hot reload (needs the `file_watcher` feature, enabled in Cargo.toml).
                    watch_for_changes_override: Some(true),
                    ..default()
                })
                .set(WindowPlugin {
                    primary_window: Some(Window {
                        title: "sprite pipeline: every sprite".into(),
                        ..default()
                    }),
                    ..default()
                }),
        )
        .add_plugins(SpriteManifestPlugin)
        .add_systems(Startup, setup)
        .add_systems(Update, (rebuild_grid_on_manifest_change, animate_frames))
        .run();
}

#[derive(Resource)]
struct ManifestHandle(Handle<SpriteManifest>);

/// Everything spawned for one manifest entry; despawned when the manifest changes.
#[derive(Component)]
struct GridCell;

fn setup(mut commands: Commands, asset_server: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.insert_resource(ManifestHandle(
        asset_server.load(sprite_manifest::MANIFEST_PATH),
    ));
}

fn rebuild_grid_on_manifest_change(
    mut commands: Commands,
    mut events: MessageReader<AssetEvent<SpriteManifest>>,
    handle: Res<ManifestHandle>,
    manifests: Res<Assets<SpriteManifest>>,
    asset_server: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    cells: Query<Entity, With<GridCell>>,
) {
    // A reload sends both Modified and LoadedWithDependencies: rebuild once.
    // (Read every event: stopping at the first would leave the rest for the next frame.)
    let mut changed = false;
    for event in events.read() {
        changed |= event.is_loaded_with_dependencies(&handle.0) || event.is_modified(&handle.0);
    }
    let Some(SpriteManifest(manifest)) = manifests.get(&handle.0) else {
        return;
    };
    if !changed {
        return;
    }
    for cell in &cells {
        commands.entity(cell).despawn();
    }
    info!(
        "showing {} sprites from {}",
        manifest.sprites.len(),
        sprite_manifest::MANIFEST_PATH
    );

    let columns = (manifest.sprites.len() as f32).sqrt().ceil().max(1.0) as usize;
    let rows = manifest.sprites.len().div_ceil(columns);
    let origin = Vec2::new(
        -(columns as f32 - 1.0) * CELL / 2.0,
        (rows as f32 - 1.0) * CELL / 2.0,
    );
    for (i, entry) in manifest.sprites.iter().enumerate() {
        let (mut sprite, animation) = sprite_for(entry, &asset_server, &mut layouts);
        let [w, h] = entry.resolution;
        let scale = ((CELL - 2.0 * LABEL_SIZE) / w.max(h).max(1) as f32)
            .floor()
            .max(1.0);
        sprite.custom_size = Some(Vec2::new(w as f32, h as f32) * scale);
        let at = origin + Vec2::new((i % columns) as f32 * CELL, -((i / columns) as f32) * CELL);
        let mut cell = commands.spawn((
            GridCell,
            sprite,
            Transform::from_translation(at.extend(0.0)),
            children![(
                Text2d::new(entry.name.clone()),
                TextFont {
                    font_size: LABEL_SIZE,
                    ..default()
                },
                Transform::from_xyz(0.0, -CELL / 2.0 + LABEL_SIZE, 1.0),
            )],
        ));
        if let Some(animation) = animation {
            cell.insert(animation);
        }
    }
}
