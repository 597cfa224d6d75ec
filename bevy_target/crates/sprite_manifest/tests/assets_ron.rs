//! `sprites/sprites.assets.ron` parses as a bevy_asset_loader 0.24 `StandardDynamicAssetCollection`
//! and holds one nearest-sampled `Image` per sprite and one `TextureAtlasLayout` (key
//! `<name>.layout`) per sheet, agreeing with the manifest. The types mirror
//! `bevy_asset_loader::standard_dynamic_asset` (v0.24.0), which also denies unknown fields.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct StandardDynamicAssetCollection(BTreeMap<String, StandardDynamicAsset>);

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
enum StandardDynamicAsset {
    File {
        path: String,
    },
    Folder {
        path: String,
    },
    Files {
        paths: Vec<String>,
    },
    Image {
        path: String,
        #[serde(default)]
        sampler: ImageSamplerType,
        #[serde(default)]
        wrap: ImageAddressModeType,
        #[serde(default, deserialize_with = "optional")]
        array_texture_layers: Option<u32>,
    },
    StandardMaterial {
        path: String,
    },
    TextureAtlasLayout {
        tile_size_x: u32,
        tile_size_y: u32,
        columns: u32,
        rows: u32,
        #[serde(default, deserialize_with = "optional")]
        padding_x: Option<u32>,
        #[serde(default, deserialize_with = "optional")]
        padding_y: Option<u32>,
        #[serde(default, deserialize_with = "optional")]
        offset_x: Option<u32>,
        #[serde(default, deserialize_with = "optional")]
        offset_y: Option<u32>,
    },
}

#[derive(Debug, Deserialize, PartialEq, Default)]
enum ImageSamplerType {
    #[default]
    Nearest,
    Linear,
}

#[derive(Debug, Deserialize, PartialEq, Default)]
enum ImageAddressModeType {
    #[default]
    ClampToEdge,
    Repeat,
}

/// bevy_asset_loader writes optional numbers bare (`padding_x: 2`), not `Some(2)`.
fn optional<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    u32::deserialize(d).map(Some)
}

fn parse(text: &str) -> Result<StandardDynamicAssetCollection, ron::Error> {
    ron::de::from_str(text)
}

#[test]
fn the_bevy_asset_loader_example_syntax_parses() {
    // From bevy_asset_loader/assets/full_dynamic_collection.assets.ron (v0.24.0).
    let example = r#"({
        "texture_atlas_layout": TextureAtlasLayout (
            tile_size_x: 96, tile_size_y: 99, columns: 8, rows: 1, padding_x: 2,
        ),
        "pixel_tree": Image (path: "images/tree.png", sampler: Nearest),
        "pixel_tree_repeat": Image (path: "images/tree.png", sampler: Nearest, wrap: Repeat),
    })"#;
    let collection = parse(example).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(collection.0.len(), 3);
    assert!(matches!(
        collection.0["texture_atlas_layout"],
        StandardDynamicAsset::TextureAtlasLayout {
            padding_x: Some(2),
            offset_y: None,
            ..
        }
    ));
}

#[test]
fn the_assets_ron_matches_the_manifest() {
    let (dir, manifest) = match common::built_assets() {
        Some(found) => found,
        None => return,
    };
    let file = dir.join(sprite_manifest::ASSETS_RON_PATH);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let collection = parse(&text)
        .unwrap_or_else(|e| {
            panic!(
                "{} is not a StandardDynamicAssetCollection: {e}",
                file.display()
            )
        })
        .0;

    let mut expected_keys = BTreeSet::new();
    for sprite in &manifest.sprites {
        expected_keys.insert(sprite.name.clone());
        match collection.get(&sprite.name) {
            Some(StandardDynamicAsset::Image {
                path,
                sampler,
                wrap,
                array_texture_layers,
            }) => {
                assert_eq!(
                    path.as_str(),
                    sprite.path.as_str(),
                    "{}: image path",
                    sprite.name
                );
                assert_eq!(
                    sampler,
                    &ImageSamplerType::Nearest,
                    "{}: sampler",
                    sprite.name
                );
                assert_eq!(
                    wrap,
                    &ImageAddressModeType::ClampToEdge,
                    "{}: wrap",
                    sprite.name
                );
                assert_eq!(array_texture_layers, &None, "{}", sprite.name);
            }
            other => panic!("{}: expected an Image entry, found {other:?}", sprite.name),
        }
        if !sprite.is_animated() {
            continue;
        }
        let key = format!("{}.layout", sprite.name);
        let a = sprite.atlas;
        let expected = StandardDynamicAsset::TextureAtlasLayout {
            tile_size_x: a.tile_width,
            tile_size_y: a.tile_height,
            columns: a.columns,
            rows: a.rows,
            padding_x: None,
            padding_y: None,
            offset_x: None,
            offset_y: None,
        };
        assert_eq!(collection.get(&key), Some(&expected), "{key}");
        expected_keys.insert(key);
    }
    let keys: BTreeSet<String> = collection.keys().cloned().collect();
    assert_eq!(keys, expected_keys, "keys of {}", file.display());
}
