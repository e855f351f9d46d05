//! What a technician on site sees without a keyboard when the storage is full
//! (the offline corner notice is in `zones`, the pairing screen covers "no
//! token"): a small corner notice while the cached schedule keeps playing,
//! or, with nothing cached to play, a clear full-screen text. Never black,
//! never an error dialog. Each change is also a log line.

use super::fonts::Fonts;
use super::report::DiskFull;
use super::{CurrentManifest, Phase, PlayerSet, Settings, palette};
use bevy::prelude::*;

pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (storage_notice, setup_notice).in_set(PlayerSet::Draw),
    )
    // The offline corner notice is drawn by `zones`; the log says it too.
    .add_systems(OnEnter(Phase::Offline), || {
        warn!(
            "the server has been unreachable for over {} minutes: \
                 showing the offline notice, playing from the cache",
            super::OFFLINE_NOTICE_MIN
        );
    });
}

/// How the storage notice is shown.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageNotice {
    /// The schedule plays from the cache; new content is missing.
    Corner,
    /// Nothing to play: the whole screen says why.
    FullScreen,
}

/// The text of the corner notice.
pub const CORNER_TEXT: &str = "Speicher voll – neue Inhalte fehlen";
/// The headline of the full-screen notice.
pub const FULL_SCREEN_TEXT: &str = "Speicher voll";

fn storage_notice(
    mut commands: Commands,
    disk_full: Res<DiskFull>,
    manifest: Res<CurrentManifest>,
    phase: Res<State<Phase>>,
    fonts: Res<Fonts>,
    settings: Res<Settings>,
    notices: Query<(Entity, &StorageNotice)>,
) {
    // The pairing screen and an alert take precedence; they fill the screen.
    let want = (disk_full.0 && matches!(phase.get(), Phase::Playing | Phase::Offline)).then(|| {
        if manifest.0.is_some() {
            StorageNotice::Corner
        } else {
            StorageNotice::FullScreen
        }
    });
    let have = notices.iter().next().map(|(_, n)| *n);
    if want == have {
        return;
    }
    for (e, _) in &notices {
        commands.entity(e).despawn();
    }
    let base = settings.width.min(settings.height) as f32;
    match want {
        None => info!("storage notice cleared"),
        Some(StorageNotice::Corner) => {
            warn!("storage full: showing the corner notice; the cached schedule keeps playing");
            let size = base * 0.018;
            commands.spawn((
                StorageNotice::Corner,
                Node {
                    position_type: PositionType::Absolute,
                    left: px(size),
                    bottom: px(size),
                    padding: UiRect::all(px(size * 0.4)),
                    ..default()
                },
                GlobalZIndex(900),
                BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6)),
                children![(
                    Text::new(CORNER_TEXT),
                    fonts.regular(size),
                    TextColor(palette::MUTED),
                )],
            ));
        }
        Some(StorageNotice::FullScreen) => {
            warn!("storage full and nothing cached to play: showing the full-screen notice");
            commands.spawn((
                StorageNotice::FullScreen,
                // Above the idle screen, below the pairing screen and alerts.
                super::full_screen(base, 450),
                children![
                    (
                        Text::new(FULL_SCREEN_TEXT),
                        fonts.bold(base * 0.08),
                        TextColor(palette::TEXT),
                    ),
                    (
                        Text::new(
                            "Der Speicher dieses Bildschirms ist voll; Inhalte können nicht geladen werden."
                        ),
                        fonts.regular(base * 0.035),
                        TextColor(palette::MUTED),
                        TextLayout::justify(Justify::Center),
                    ),
                ],
            ));
        }
    }
}

/// A fault in the display's own setup that only someone on site can fix:
/// the kiosk's first-boot file was refused (`kiosk-config` leaves its
/// reason in a file the player is pointed at). Shown from the start until
/// the next boot, over the schedule and the pairing code (which would lead
/// nowhere with a wrong server address), under an alert.
#[derive(Resource, Debug, Clone)]
pub struct SetupProblem(pub String);

/// The headline of the setup notice.
pub const SETUP_TEXT: &str = "Einrichtung fehlerhaft";

#[derive(Component, Debug)]
pub struct SetupNotice;

fn setup_notice(
    mut commands: Commands,
    problem: Option<Res<SetupProblem>>,
    fonts: Res<Fonts>,
    settings: Res<Settings>,
    shown: Query<(), With<SetupNotice>>,
) {
    let Some(problem) = problem else { return };
    if !shown.is_empty() {
        return;
    }
    error!("showing the setup problem on screen: {}", problem.0);
    let base = settings.width.min(settings.height) as f32;
    commands.spawn((
        SetupNotice,
        super::full_screen(base, 800),
        children![
            (
                Text::new(SETUP_TEXT),
                fonts.bold(base * 0.08),
                TextColor(palette::TEXT),
            ),
            (
                Text::new("Bitte kiosk.conf auf der Boot-Partition prüfen und neu starten."),
                fonts.regular(base * 0.035),
                TextColor(palette::MUTED),
                TextLayout::justify(Justify::Center),
            ),
            (
                Text::new(problem.0.clone()),
                fonts.regular(base * 0.03),
                TextColor(palette::TEXT),
                TextLayout::justify(Justify::Center),
            ),
        ],
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Alerts, Connection, Live, Now};
    use bevy::state::app::StatesPlugin;

    fn app(manifest: bool) -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin))
            .insert_resource(Now::default())
            .insert_resource(Connection {
                has_token: true,
                ..default()
            })
            .insert_resource(CurrentManifest(manifest.then(|| {
                std::sync::Arc::new(
                    serde_json::from_value(serde_json::json!({
                        "version": 1,
                        "generated_at": "2026-11-22T09:00:00Z",
                        "display": {
                            "id": 1, "name": "Kaarst",
                            "location": { "lat": 51.2, "lon": 6.6, "ars": "051620016016" },
                            "resolution": { "width": 1920, "height": 1080 },
                        },
                        "layout": { "id": 0, "name": "Vollbild", "zones": [] },
                        "timeline": [], "items": [], "assets": [],
                        "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
                    }))
                    .unwrap(),
                )
            })))
            .init_resource::<Alerts>()
            .init_resource::<Live>()
            .init_resource::<DiskFull>()
            .insert_resource(Fonts {
                regular: Handle::default(),
                bold: Handle::default(),
            })
            .insert_resource(Settings {
                data_dir: std::path::PathBuf::new(),
                width: 640,
                height: 360,
                output_width: 640,
                output_height: 360,
            })
            .insert_state(Phase::Playing)
            .configure_sets(
                Update,
                (PlayerSet::Input, PlayerSet::Decide, PlayerSet::Draw).chain(),
            )
            .add_plugins(plugin);
        app
    }

    fn notices(app: &mut App) -> Vec<(StorageNotice, Vec<String>)> {
        let world = app.world_mut();
        let mut q = world.query::<(&StorageNotice, &Children)>();
        let found: Vec<(StorageNotice, Vec<Entity>)> = q
            .iter(world)
            .map(|(n, c)| (*n, c.iter().collect()))
            .collect();
        found
            .into_iter()
            .map(|(n, children)| {
                let texts = children
                    .iter()
                    .filter_map(|&e| world.get::<Text>(e).map(|t| t.0.clone()))
                    .collect();
                (n, texts)
            })
            .collect()
    }

    #[test]
    fn a_refused_setup_file_is_shown_with_its_reason_once() {
        let mut app = app(true);
        app.update();
        let world = app.world_mut();
        assert_eq!(world.query::<&SetupNotice>().iter(world).count(), 0);
        let reason = "kiosk.conf, line 2: `rotation` must be 0, 90, 180 or 270";
        app.insert_resource(SetupProblem(reason.to_owned()));
        app.update();
        app.update();
        let world = app.world_mut();
        let mut q = world.query_filtered::<&Children, With<SetupNotice>>();
        let children: Vec<Entity> = q.single(world).unwrap().iter().collect();
        let texts: Vec<String> = children
            .iter()
            .filter_map(|&e| world.get::<Text>(e).map(|t| t.0.clone()))
            .collect();
        assert_eq!(texts[0], SETUP_TEXT);
        assert_eq!(texts[2], reason);
    }

    #[test]
    fn a_full_disk_shows_a_corner_notice_while_the_cache_plays_and_clears() {
        let mut app = app(true);
        app.update();
        assert!(notices(&mut app).is_empty());
        app.world_mut().resource_mut::<DiskFull>().0 = true;
        app.update();
        assert_eq!(
            notices(&mut app),
            [(StorageNotice::Corner, vec![CORNER_TEXT.to_owned()])]
        );
        // Unchanged: not drawn anew.
        app.update();
        assert_eq!(notices(&mut app).len(), 1);
        app.world_mut().resource_mut::<DiskFull>().0 = false;
        app.update();
        assert!(notices(&mut app).is_empty());
    }

    #[test]
    fn a_full_disk_with_nothing_to_play_says_so_full_screen_but_never_over_an_alert() {
        let mut app = app(false);
        app.world_mut().resource_mut::<DiskFull>().0 = true;
        app.update();
        let found = notices(&mut app);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, StorageNotice::FullScreen);
        assert_eq!(found[0].1[0], FULL_SCREEN_TEXT);
        app.world_mut()
            .resource_mut::<NextState<Phase>>()
            .set(Phase::Alert);
        app.update();
        app.update();
        assert!(notices(&mut app).is_empty());
    }
}
