//! The manifest and PNGs the pipeline wrote: every sprite's PNG exists, decodes, has the
//! sheet's size and the manifest's sha256.

mod common;

use sha2::{Digest, Sha256};

#[test]
fn every_png_decodes_with_the_manifest_size_and_hash() {
    let (dir, manifest) = match common::built_assets() {
        Some(found) => found,
        None => return,
    };
    for sprite in &manifest.sprites {
        let file = dir.join(&sprite.path);
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{}: {} ({e})", sprite.name, file.display()));
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            digest,
            sprite.sha256,
            "{}: sha256 of {}",
            sprite.name,
            file.display()
        );

        let decoder = png::Decoder::new(bytes.as_slice());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{}: {} does not decode: {e}", sprite.name, file.display()));
        let mut pixels = vec![0; reader.output_buffer_size()];
        let frame = reader
            .next_frame(&mut pixels)
            .unwrap_or_else(|e| panic!("{}: {} does not decode: {e}", sprite.name, file.display()));
        assert_eq!(
            [frame.width, frame.height],
            sprite.sheet_size(),
            "{}: PNG size vs atlas {:?}",
            sprite.name,
            sprite.atlas
        );
    }
}

#[test]
fn sprite_count_and_names_are_sorted() {
    let manifest = match common::built_assets() {
        Some((_, manifest)) => manifest,
        None => return,
    };
    let names: Vec<&str> = manifest.sprites.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "the pipeline writes sprites sorted by name");
}
