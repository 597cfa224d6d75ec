//! The loader against a fixed manifest (also validated by the Python side's pydantic models in
//! tests/test_manifest_contract.py, so both sides accept the same document).

use serde_json::{json, Value};
use sprite_manifest::{Manifest, ManifestError, PaletteKind};

const FIXTURE: &str = include_str!("fixtures/manifest.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn load(value: &Value) -> Result<Manifest, ManifestError> {
    Manifest::from_slice(&serde_json::to_vec(value).unwrap())
}

fn error_of(value: &Value) -> String {
    load(value).expect_err("should be refused").to_string()
}

#[test]
fn fixture_loads() {
    let m = load(&fixture()).unwrap();
    assert_eq!(m.sprite_count, 3);
    let slime = m.get("slime").unwrap();
    assert!(slime.is_animated());
    assert_eq!(slime.last_frame(), 3);
    assert_eq!(slime.sheet_size(), [64, 64]);
    assert_eq!(slime.frame_seconds(), Some(1.0 / 6.0));
    assert_eq!(slime.palette.kind, PaletteKind::Adaptive);
    assert_eq!(slime.palette.name, None);
    let goblin = m.get("goblin").unwrap();
    assert_eq!(goblin.seed, u64::MAX);
    assert_eq!(goblin.frame_seconds(), None);
    assert_eq!(goblin.palette.name.as_deref(), Some("pico-8"));
}

#[test]
fn round_trips_through_serde() {
    let m = load(&fixture()).unwrap();
    let again: Manifest = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
    assert_eq!(m, again);
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    for pointer in ["", "/sprites/0", "/sprites/0/atlas", "/sprites/0/palette"] {
        let mut v = fixture();
        v.pointer_mut(pointer).unwrap()["added_by_python"] = json!(1);
        assert!(
            error_of(&v).contains("unknown field `added_by_python`"),
            "{pointer}"
        );
    }
}

#[test]
fn missing_fields_are_refused() {
    let mut v = fixture();
    v["sprites"][0].as_object_mut().unwrap().remove("sha256");
    assert!(error_of(&v).contains("missing field `sha256`"));
}

#[test]
fn palette_name_may_be_absent() {
    let mut v = fixture();
    v["sprites"][2]["palette"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert_eq!(load(&v).unwrap().sprites[2].palette.name, None);
}

#[test]
fn inconsistent_manifests_name_the_problem() {
    type Mutation = fn(&mut Value);
    let cases: Vec<(Mutation, &str)> = vec![
        (
            |v| v["version"] = json!("2.0"),
            "version \"2.0\" is not supported",
        ),
        (|v| v["sprite_count"] = json!(4), "sprite_count is 4 but 3"),
        (
            |v| v["sprites"][1]["name"] = json!("goblin"),
            "\"goblin\": listed twice",
        ),
        (
            |v| v["sprites"][0]["path"] = json!("../x.png"),
            "'..' component",
        ),
        (
            |v| v["sprites"][0]["path"] = json!("/abs/x.png"),
            "not a relative",
        ),
        (
            |v| v["sprites"][0]["path"] = json!("sprites/x.jpg"),
            "not a .png",
        ),
        (
            |v| v["sprites"][2]["atlas"]["rows"] = json!(1),
            "cannot hold 4 frames",
        ),
        (
            |v| v["sprites"][2]["resolution"] = json!([16, 32]),
            "differs from resolution",
        ),
        (
            |v| v["sprites"][2]["fps"] = json!(0.0),
            "fps 0 for an animation",
        ),
        (|v| v["sprites"][0]["frames"] = json!(0), "frames is 0"),
        (
            |v| v["sprites"][0]["sha256"] = json!("abc"),
            "not 64 hex digits",
        ),
    ];
    for (mutate, expected) in cases {
        let mut v = fixture();
        mutate(&mut v);
        let message = error_of(&v);
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn a_missing_file_says_to_build_first() {
    let err = Manifest::load_from_assets_dir("/nonexistent-assets".as_ref()).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }));
    assert!(err
        .to_string()
        .contains("/nonexistent-assets/sprites/manifest.json"));
}
