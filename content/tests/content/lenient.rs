//! Lenient manifest decoding: a player keeps playing a manifest from a newer
//! server whose items it does not all understand.

use crate::common::{announcement, items_map, kaarst_display, main_and_ticker, utc};
use content::ItemId;
use content::ScheduleId;
use content::lenient::{LenientError, decode_manifest};
use content::manifest::Manifest;
use content::model::{AssetRef, ContentItem, ItemKind};
use content::resolve::Inputs;
use content::schedule::{Entry, Layer, Rule, Schedule, Target};
use serde_json::{Value, json};

fn image(id: i64, c: char) -> ContentItem {
    ContentItem {
        id: ItemId(id),
        name: format!("Bild {id}"),
        content: ItemKind::Image {
            asset: AssetRef {
                sha256: c.to_string().repeat(64),
                size: 10,
                mime: "image/png".into(),
            },
            fit: Default::default(),
        },
        duration_s: 10,
        tags: Vec::new(),
        valid_from: None,
        expires_at: None,
    }
}

/// A manifest whose main loop plays items 1, 2 and 3 (2 an image) for a week.
fn manifest() -> Manifest {
    let layout = main_and_ticker();
    let schedule = Schedule {
        id: ScheduleId(1),
        name: "Plan".into(),
        targets: vec![Target::All],
        zone: "main".into(),
        entries: [1, 2, 3]
            .iter()
            .map(|&i| Entry {
                item: ItemId(i),
                duration_s: None,
            })
            .collect(),
        rule: Rule::default(),
        layer: Layer::Normal,
        priority: 0,
        share_of_voice: None,
    };
    let items = items_map([
        announcement(1, "Bürgerbüro", 10),
        image(2, 'b'),
        announcement(3, "Nachtbus", 10),
    ]);
    let display = kaarst_display();
    let schedules = [schedule];
    let inputs = Inputs {
        display: &display,
        layout: &layout,
        schedules: &schedules,
        items: &items,
    };
    Manifest::build(inputs, utc("2026-11-22T09:00:00Z"))
}

/// Replaces item `id`'s content with a type this build does not know.
fn with_unknown_type(m: &Manifest, id: i64) -> Value {
    let mut v = serde_json::to_value(m).unwrap();
    for item in v["items"].as_array_mut().unwrap() {
        if item["id"] == json!(id) {
            item["content"] = json!({ "type": "hologram", "height_cm": 180 });
        }
    }
    v
}

fn main_entries(m: &Manifest) -> Vec<i64> {
    m.timeline[0].state.zones["main"]
        .entries
        .iter()
        .map(|e| e.item.0)
        .collect()
}

#[test]
fn a_manifest_without_surprises_decodes_as_strictly() {
    let m = manifest();
    assert_eq!(main_entries(&m), [1, 2, 3]);
    let text = serde_json::to_string(&m).unwrap();
    let d = decode_manifest(&text).unwrap();
    assert!(d.skipped.is_empty());
    assert_eq!(d.manifest, m);
    assert_eq!(d.manifest, serde_json::from_str::<Manifest>(&text).unwrap());
}

#[test]
fn an_unknown_item_leaves_the_fallback_too() {
    let mut m = manifest();
    m.fallback = m.timeline[0].state.clone();
    let d = decode_manifest(&with_unknown_type(&m, 2).to_string()).unwrap();
    let fallback: Vec<i64> = d.manifest.fallback.zones["main"]
        .entries
        .iter()
        .map(|e| e.item.0)
        .collect();
    assert_eq!(fallback, [1, 3]);
}

#[test]
fn an_unknown_item_type_is_skipped_and_the_rest_plays() {
    let m = manifest();
    let v = with_unknown_type(&m, 2);
    // Strict decoding refuses the whole manifest: what the server must keep doing.
    assert!(serde_json::from_value::<Manifest>(v.clone()).is_err());

    let d = decode_manifest(&v.to_string()).unwrap();
    assert_eq!(d.skipped.len(), 1);
    let s = &d.skipped[0];
    assert_eq!(s.id, Some(ItemId(2)));
    assert_eq!(s.name.as_deref(), Some("Bild 2"));
    assert_eq!(s.content_type.as_deref(), Some("hologram"));
    assert!(s.reason.contains("hologram"), "{}", s.reason);
    let line = s.to_string();
    assert!(
        line.starts_with("item 2 \"Bild 2\" (type \"hologram\"): "),
        "{line}"
    );

    let kept = &d.manifest;
    assert_eq!(
        kept.items.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        [1, 3]
    );
    // Its entries leave every loop; the others play in their place.
    for seg in &kept.timeline {
        for p in seg.state.zones.values() {
            assert!(p.entries.iter().all(|e| e.item != ItemId(2)));
        }
    }
    assert_eq!(main_entries(kept), [1, 3]);
    // Its image is not downloaded for nothing.
    assert!(kept.assets.is_empty(), "{:?}", kept.assets);
    // Everything else is as sent.
    assert_eq!(kept.version, m.version);
    assert_eq!(kept.display, m.display);
    assert_eq!(kept.layout, m.layout);
    assert_eq!(kept.timeline.len(), m.timeline.len());
    // What the player stores decodes strictly again.
    let again: Manifest = serde_json::from_str(&serde_json::to_string(kept).unwrap()).unwrap();
    assert_eq!(&again, kept);
}

#[test]
fn any_undecodable_item_is_skipped_with_what_can_be_read() {
    let m = manifest();
    let mut v = serde_json::to_value(&m).unwrap();
    let items = v["items"].as_array_mut().unwrap();
    // A known type with a field from the future, and an item that is not even an object.
    items[0]["content"]["font"] = json!("Fraktur");
    items.push(json!(42));
    let d = decode_manifest(&v.to_string()).unwrap();
    assert_eq!(d.skipped.len(), 2);
    assert_eq!(d.skipped[0].id, Some(ItemId(1)));
    assert_eq!(d.skipped[0].content_type.as_deref(), Some("announcement"));
    assert!(
        d.skipped[0].reason.contains("font"),
        "{}",
        d.skipped[0].reason
    );
    assert_eq!(d.skipped[1].id, None);
    assert!(
        d.skipped[1]
            .to_string()
            .starts_with("an item without an id: ")
    );
    assert_eq!(main_entries(&d.manifest), [2, 3]);
    // The image item stays, and so does its asset.
    assert_eq!(d.manifest.assets, m.assets);
}

#[test]
fn every_item_unknown_leaves_empty_loops_not_an_error() {
    let m = manifest();
    let mut v = serde_json::to_value(&m).unwrap();
    for item in v["items"].as_array_mut().unwrap() {
        item["content"] = json!({ "type": "hologram" });
    }
    let d = decode_manifest(&v.to_string()).unwrap();
    assert_eq!(d.skipped.len(), 3);
    assert!(d.manifest.items.is_empty());
    // Empty loops show the idle screen, never black.
    assert!(main_entries(&d.manifest).is_empty());
}

#[test]
fn the_rest_of_the_manifest_is_still_strict() {
    let m = manifest();
    assert!(matches!(
        decode_manifest("{nope"),
        Err(LenientError::NotJson(_))
    ));
    let mut v = serde_json::to_value(&m).unwrap();
    v["display"]["colour"] = json!("blue");
    assert!(matches!(
        decode_manifest(&v.to_string()),
        Err(LenientError::Invalid(_))
    ));
    let mut v = serde_json::to_value(&m).unwrap();
    v["items"] = json!("none");
    assert!(matches!(
        decode_manifest(&v.to_string()),
        Err(LenientError::Invalid(_))
    ));
    let mut v = serde_json::to_value(&m).unwrap();
    v.as_object_mut().unwrap().remove("items");
    assert!(matches!(
        decode_manifest(&v.to_string()),
        Err(LenientError::Invalid(_))
    ));
}
