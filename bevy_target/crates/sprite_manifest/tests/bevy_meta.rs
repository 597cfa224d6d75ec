//! Every sprite's `.png.meta` parses as Bevy 0.17's image loader meta and asks for a nearest
//! sampler. The types below mirror bevy_asset's `AssetMeta`/`AssetAction` and bevy_image's
//! `ImageLoaderSettings`/`ImageSampler`/`ImageSamplerDescriptor` (v0.17.3) field for field,
//! but stricter: unknown fields are refused so a typo cannot hide.

mod common;

use serde::Deserialize;

/// bevy_asset::meta::META_FORMAT_VERSION in Bevy 0.17.
const META_FORMAT_VERSION: &str = "1.0";
/// `std::any::type_name::<bevy_image::ImageLoader>()`.
const IMAGE_LOADER: &str = "bevy_image::image_loader::ImageLoader";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetMeta {
    meta_format_version: String,
    asset: AssetAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
enum AssetAction {
    Load {
        loader: String,
        settings: ImageLoaderSettings,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageLoaderSettings {
    format: ImageFormatSetting,
    is_srgb: bool,
    sampler: ImageSampler,
    asset_usage: RenderAssetUsages,
}

#[derive(Debug, Deserialize, PartialEq)]
enum ImageFormatSetting {
    FromExtension,
    Format(String),
    Guess,
}

/// A bitflags 2 value: a newtype around `"MAIN_WORLD | RENDER_WORLD"`.
#[derive(Debug, Deserialize)]
struct RenderAssetUsages(String);

#[derive(Debug, Deserialize, PartialEq)]
enum ImageSampler {
    Default,
    Descriptor(ImageSamplerDescriptor),
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ImageSamplerDescriptor {
    label: Option<String>,
    address_mode_u: ImageAddressMode,
    address_mode_v: ImageAddressMode,
    address_mode_w: ImageAddressMode,
    mag_filter: ImageFilterMode,
    min_filter: ImageFilterMode,
    mipmap_filter: ImageFilterMode,
    lod_min_clamp: f32,
    lod_max_clamp: f32,
    compare: Option<ImageCompareFunction>,
    anisotropy_clamp: u16,
    border_color: Option<ImageSamplerBorderColor>,
}

#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
enum ImageAddressMode {
    ClampToEdge,
    Repeat,
    MirrorRepeat,
    ClampToBorder,
}

#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
enum ImageFilterMode {
    Nearest,
    Linear,
}

#[derive(Debug, Deserialize, PartialEq)]
enum ImageCompareFunction {
    Never,
    Less,
    Equal,
    LessEqual,
    Greater,
    NotEqual,
    GreaterEqual,
    Always,
}

#[derive(Debug, Deserialize, PartialEq)]
enum ImageSamplerBorderColor {
    TransparentBlack,
    OpaqueBlack,
    OpaqueWhite,
    Zero,
}

/// What bevy_asset_loader 0.24 builds for `Image(path: .., sampler: Nearest)`
/// (`ImageSamplerDescriptor { address modes and filters set, ..Default::default() }`). If the
/// meta's descriptor differed, bevy_asset_loader would clone the image into a new handle and
/// hot reloads of that file would no longer reach the collection.
fn asset_loader_nearest() -> ImageSamplerDescriptor {
    ImageSamplerDescriptor {
        label: None,
        address_mode_u: ImageAddressMode::ClampToEdge,
        address_mode_v: ImageAddressMode::ClampToEdge,
        address_mode_w: ImageAddressMode::ClampToEdge,
        mag_filter: ImageFilterMode::Nearest,
        min_filter: ImageFilterMode::Nearest,
        mipmap_filter: ImageFilterMode::Nearest,
        lod_min_clamp: 0.0,
        lod_max_clamp: 32.0,
        compare: None,
        anisotropy_clamp: 1,
        border_color: None,
    }
}

fn parse(text: &str) -> Result<AssetMeta, ron::Error> {
    ron::de::from_str(text)
}

#[test]
fn bevys_own_example_meta_parses() {
    // examples/asset/files/bevy_pixel_dark_with_meta.png.meta at bevy v0.17.3 (verbatim but
    // for the outer indentation): proves these mirror types read what Bevy itself ships.
    let bevy_example = r#"(
    meta_format_version: "1.0",
    asset: Load(
        loader: "bevy_image::image_loader::ImageLoader",
        settings: (
            format: FromExtension,
            is_srgb: true,
            sampler: Descriptor (ImageSamplerDescriptor(
                address_mode_u: ClampToEdge,
                address_mode_v: ClampToEdge,
                address_mode_w: ClampToEdge,
                mag_filter: Nearest,
                min_filter: Nearest,
                mipmap_filter: Nearest,
                lod_min_clamp: 0,
                lod_max_clamp: 32.0,
                compare: None,
                anisotropy_clamp: 1,
                border_color: None,
                label: None,
            )),
            asset_usage: RenderAssetUsages("RENDER_WORLD | MAIN_WORLD"),
        ),
    ),
)"#;
    let meta = parse(bevy_example).unwrap_or_else(|e| panic!("{e}"));
    let AssetAction::Load { settings, .. } = meta.asset;
    assert_eq!(
        settings.sampler,
        ImageSampler::Descriptor(asset_loader_nearest())
    );
}

#[test]
fn a_misspelt_field_is_refused() {
    let err = parse("(meta_format_version: \"1.0\", assett: Load(loader: \"x\", settings: ()))");
    assert!(err.is_err());
}

#[test]
fn every_sprite_meta_is_bevy_image_loader_settings_with_nearest_sampling() {
    let (dir, manifest) = match common::built_assets() {
        Some(found) => found,
        None => return,
    };
    for sprite in &manifest.sprites {
        let file = dir.join(format!("{}.meta", sprite.path));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {} ({e})", sprite.name, file.display()));
        let meta = parse(&text).unwrap_or_else(|e| {
            panic!(
                "{}: {} is not Bevy 0.17 image meta: {e}",
                sprite.name,
                file.display()
            )
        });
        assert_eq!(
            meta.meta_format_version,
            META_FORMAT_VERSION,
            "{}",
            file.display()
        );
        let AssetAction::Load { loader, settings } = meta.asset;
        assert_eq!(loader, IMAGE_LOADER, "{}", file.display());
        assert_eq!(
            settings.format,
            ImageFormatSetting::FromExtension,
            "{}",
            file.display()
        );
        assert!(
            settings.is_srgb,
            "{}: pixel art colours are sRGB",
            file.display()
        );
        assert_eq!(
            settings.sampler,
            ImageSampler::Descriptor(asset_loader_nearest()),
            "{}: sampler",
            file.display()
        );
        let mut flags: Vec<&str> = settings.asset_usage.0.split('|').map(str::trim).collect();
        flags.sort_unstable();
        assert_eq!(
            flags,
            ["MAIN_WORLD", "RENDER_WORLD"],
            "{}: asset_usage",
            file.display()
        );
    }
}
