//! Alert geo-targeting: which displays a warning reaches.

use crate::common::{config, kaarst_location, utc};
use content::alert::{Alert, AlertArea, AlertStatus, Circle, Presentation, Severity, Urgency};
use content::model::{Ars, Location};
use proptest::prelude::*;

fn ars(s: &str) -> Ars {
    s.parse().unwrap()
}

fn at(key: &str) -> Location {
    Location {
        ars: ars(key),
        ..kaarst_location()
    }
}

fn by_key(key: &str) -> AlertArea {
    AlertArea {
        ars: vec![ars(key)],
        ..AlertArea::default()
    }
}

#[test]
fn regional_keys_cover_their_area_only() {
    let kaarst = kaarst_location();
    for key in [
        "000000000000",
        "050000000000",
        "051000000000",
        "051620000000",
        "051620016000",
        "051620016016",
    ] {
        assert!(by_key(key).covers(&kaarst), "{key} covers Kaarst");
    }
    for key in [
        "060000000000",
        "053000000000",
        "051660000000",
        "051620004000",
        "051620016017",
    ] {
        assert!(!by_key(key).covers(&kaarst), "{key} does not cover Kaarst");
    }
}

/// Zeros inside a group are digits, not "the whole area": only whole trailing
/// groups (Land 2, Bezirk 1, Kreis 2, Verband 4, Gemeinde 3 digits) widen a key.
#[test]
fn zeros_at_the_end_of_a_group_are_significant() {
    // Kreis Heinsberg (05370) is not the Oberbergische (05374) or the
    // Rheinisch-Bergische Kreis (05378).
    let heinsberg = by_key("053700000000");
    assert!(heinsberg.covers(&at("053700004004")));
    assert!(
        !heinsberg.covers(&at("053740012012")),
        "Gummersbach is not in Kreis Heinsberg"
    );
    assert!(
        !heinsberg.covers(&at("053780004004")),
        "Bergisch Gladbach is not in Kreis Heinsberg"
    );
    // Saarland (10) is not Berlin (11), Brandenburg (12), ...
    let saarland = by_key("100000000000");
    assert!(saarland.covers(&at("100410100100")), "Saarbrücken");
    assert!(
        !saarland.covers(&at("110000000000")),
        "Berlin is not in the Saarland"
    );
    assert!(
        !saarland.covers(&at("120540000000")),
        "Potsdam is not in the Saarland"
    );
    // Korschenbroich's own key (Gemeinde 020) names only Korschenbroich.
    assert!(by_key("051620020020").covers(&at("051620020020")));
    assert!(!by_key("051620020020").covers(&at("051620020021")));
}

fn ars_strategy() -> impl Strategy<Value = String> {
    (1u32..=16, 0u32..=9, 1u32..=99, 0u32..=9999, 0u32..=999)
        .prop_map(|(l, r, k, v, g)| format!("{l:02}{r}{k:02}{v:04}{g:03}"))
}

/// `s` with everything from digit `keep` on replaced by zeros.
fn widened(s: &str, keep: usize) -> Ars {
    ars(&format!("{}{}", &s[..keep], "0".repeat(12 - keep)))
}

proptest! {
    #![proptest_config(config(256))]

    /// A place is within every wider key of its own, and within a district key
    /// exactly when it lies in that district.
    #[test]
    fn keys_contain_exactly_their_area(a in ars_strategy(), b in ars_strategy()) {
        let place = ars(&a);
        for keep in [0, 2, 3, 5, 9, 12] {
            prop_assert!(place.is_within(&widened(&a, keep)), "{} within {:?}", a, widened(&a, keep));
        }
        prop_assert!(place.is_within(&place.district()));
        let district = ars(&b).district();
        prop_assert_eq!(place.is_within(&district), a[..5] == b[..5], "{} within {:?}", a, district);
        let land = widened(&b, 2);
        prop_assert_eq!(place.is_within(&land), a[..2] == b[..2], "{} within {:?}", a, land);
        prop_assert_eq!(place.ags(), format!("{}{}", &a[..5], &a[9..]));
    }
}

#[test]
fn polygons_and_circles() {
    let kaarst = kaarst_location();
    // Unclosed square around Kaarst; the same ring closed; a triangle elsewhere.
    let square = vec![(51.2, 6.6), (51.3, 6.6), (51.3, 6.7), (51.2, 6.7)];
    let mut closed = square.clone();
    closed.push(square[0]);
    for ring in [square, closed] {
        assert!(
            AlertArea {
                polygons: vec![ring],
                ..AlertArea::default()
            }
            .covers(&kaarst)
        );
    }
    let elsewhere = vec![(51.4, 6.9), (51.5, 7.0), (51.4, 7.1)];
    assert!(
        !AlertArea {
            polygons: vec![elsewhere],
            ..AlertArea::default()
        }
        .covers(&kaarst)
    );
    let degenerate = vec![(51.2, 6.6), (51.3, 6.7)];
    assert!(
        !AlertArea {
            polygons: vec![degenerate],
            ..AlertArea::default()
        }
        .covers(&kaarst)
    );
    // Neuss Markt is about 6 km from the Kaarst Rathaus.
    let neuss = Circle {
        lat: 51.1985,
        lon: 6.6916,
        radius_km: 0.0,
    };
    let d = content::alert::haversine_km(neuss.lat, neuss.lon, kaarst.lat, kaarst.lon);
    assert!((5.0..7.0).contains(&d), "{d} km");
    let circle = |radius_km| AlertArea {
        circles: vec![Circle { radius_km, ..neuss }],
        ..AlertArea::default()
    };
    assert!(circle(d + 0.1).covers(&kaarst));
    assert!(!circle(d - 0.1).covers(&kaarst));
    assert!(AlertArea::default().is_empty());
    assert!(
        !AlertArea::default().covers(&kaarst),
        "an empty area reaches no one"
    );
}

#[test]
fn presentation_and_expiry() {
    let alert = |severity| Alert {
        id: "x".into(),
        status: AlertStatus::Actual,
        severity,
        urgency: Urgency::Immediate,
        headline: "Unwetterwarnung".into(),
        description: String::new(),
        instruction: String::new(),
        area_description: "Kaarst".into(),
        area: by_key("051620000000"),
        sent: utc("2026-12-01T08:00:00Z"),
        expires: Some(utc("2026-12-01T12:00:00Z")),
        sender: "DWD".into(),
    };
    assert_eq!(
        alert(Severity::Extreme).presentation(),
        Presentation::Takeover
    );
    assert_eq!(
        alert(Severity::Severe).presentation(),
        Presentation::Takeover
    );
    assert_eq!(
        alert(Severity::Moderate).presentation(),
        Presentation::Banner
    );
    assert_eq!(
        alert(Severity::Unknown).presentation(),
        Presentation::Banner
    );
    let a = alert(Severity::Severe);
    assert!(a.is_active_at(utc("2026-12-01T11:59:59Z")));
    assert!(!a.is_active_at(utc("2026-12-01T12:00:00Z")));
    assert!(
        Alert {
            expires: None,
            ..a.clone()
        }
        .is_active_at(utc("2030-01-01T00:00:00Z"))
    );
    assert!(a.covers(&kaarst_location()));
}
