//! The layout's zones and what plays in them: announcement, image, clock,
//! ticker, transit board, sensor panel, and the idle screen (town name and
//! clock) for a zone with nothing scheduled, so no zone is ever black.
//!
//! A zone is drawn anew only when its entry changes (its key: item and start);
//! between changes only the clock text (once a second) and tickers (every
//! frame) are touched.

use super::fonts::Fonts;
use super::link::NetLink;
use super::offscreen::Target;
use super::{
    ClockTrust, Connection, CurrentManifest, Live, Now, Phase, PlayerSet, Settings, palette,
};
use crate::net::AppReport;
use crate::show::{Showing, substitute, zone_key, zones_from};
use bevy::ecs::hierarchy::ChildSpawnerCommands;
use bevy::image::{ImageFormatSetting, ImageLoaderSettings};
use bevy::prelude::*;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use content::live::{AirQualityClass, LiveData, Quantity, ServiceAlert, Trend};
use content::model::{ContentItem, Fit, ItemKind, MAIN_ZONE, Zone};
use content::protocol::{NowPlaying, PlayRecord};
use content::{ItemId, ScheduleId};

pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (
            build_layout,
            refresh_zones,
            transitions,
            tick_clocks,
            scroll_tickers,
            offline_notice,
        )
            .chain()
            .in_set(PlayerSet::Draw)
            .run_if(not(in_state(Phase::Pairing))),
    );
}

/// The zone layer: the parent of the zones that overlap others, letterboxed
/// into the output by [`super::offscreen::fit_output`]. It owns the zones
/// drawn by their own camera (root nodes, see [`super::offscreen`]) and
/// those cameras; they go when it goes.
#[derive(Component, Debug)]
pub struct ZoneLayer {
    /// The manifest version it was built for (`None`: built-in full screen).
    version: Option<u64>,
    /// Zone roots with their own camera, and the cameras.
    owned: Vec<Entity>,
}

/// One zone box.
#[derive(Component, Debug)]
pub struct ZoneBox {
    pub name: String,
    pub size: Vec2,
    pub key: Option<(ItemId, DateTime<Utc>)>,
    pub drawn: bool,
    /// What it shows since when, for proof of play.
    shown: Option<(ItemId, Option<ScheduleId>, DateTime<Utc>)>,
    /// Items that failed to play (a video stream) during the scheduled entry
    /// `failed_for`: the zone shows the next playlist item instead.
    failed: Vec<ItemId>,
    failed_for: Option<(ItemId, DateTime<Utc>)>,
}

impl ZoneBox {
    /// Proof of play for what showed until `at`.
    fn end_play(&mut self, link: Option<&NetLink>, at: DateTime<Utc>) {
        if let Some((item, schedule, since)) = self.shown.take()
            && let Some(link) = link
        {
            let ms = (at - since).num_milliseconds().clamp(0, u32::MAX as i64) as u32;
            link.report(AppReport::Played(PlayRecord {
                item,
                zone: self.name.clone(),
                schedule,
                started_at: since,
                duration_ms: ms,
            }));
        }
    }
}

impl ZoneBox {
    fn new(name: &str, size: Vec2) -> ZoneBox {
        ZoneBox {
            name: name.to_owned(),
            size,
            key: None,
            drawn: false,
            shown: None,
            failed: Vec::new(),
            failed_for: None,
        }
    }

    /// The items that failed during the scheduled entry now showing.
    pub fn failed_items(&self) -> &[ItemId] {
        &self.failed
    }

    /// The item this zone shows could not be played: go on to the next.
    pub fn fail(&mut self, item: ItemId) {
        if !self.failed.contains(&item) {
            self.failed.push(item);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockPart {
    Time,
    Date,
}

/// A text that shows the time or date in the display's zone.
#[derive(Component, Debug)]
pub struct ClockText {
    pub part: ClockPart,
    pub tz: Tz,
}

/// A scrolling line of text.
#[derive(Component, Debug)]
pub struct Ticker {
    pub speed: f32,
    pub zone_width: f32,
    pub started_at: DateTime<Utc>,
    pub estimated_width: f32,
}

/// What one zone shows (one item or the idle screen); during a transition a
/// zone holds two.
#[derive(Component, Debug)]
pub struct ZoneContent;

/// The content that slides in, and the contents it replaces.
#[derive(Component, Debug)]
#[require(super::redraw::Animated)]
pub struct Entering {
    /// When the slide began: once every image under it is loaded.
    started: Option<std::time::Instant>,
    width: f32,
    leaving: Vec<Entity>,
}

/// Content on its way out.
#[derive(Component, Debug)]
pub struct Leaving;

/// How long a transition between two items takes.
pub const TRANSITION: std::time::Duration = std::time::Duration::from_millis(600);

/// The small corner notice after the server was gone a while.
#[derive(Component, Debug)]
struct OfflineNotice;

fn build_layout(
    mut commands: Commands,
    manifest: Res<CurrentManifest>,
    mut settings: ResMut<Settings>,
    target: Option<Res<Target>>,
    layers: Query<(Entity, &ZoneLayer)>,
) {
    let version = manifest.0.as_ref().map(|m| m.version);
    let current = layers.iter().next();
    if current.is_some_and(|(_, l)| l.version == version) {
        return;
    }
    if let Some((e, layer)) = current {
        for &owned in &layer.owned {
            commands.entity(owned).despawn();
        }
        commands.entity(e).despawn();
    }
    // A new manifest may be for another resolution: lay out in that one.
    if let Some(m) = &manifest.0 {
        let (w, h) = super::output_size(Some(m));
        if (settings.width, settings.height) != (w, h) {
            settings.width = w;
            settings.height = h;
        }
    }
    let zones = match &manifest.0 {
        Some(m) => m.layout.zones.clone(),
        None => content::model::Layout::fullscreen().zones,
    };
    let (w, h) = (settings.width as f32, settings.height as f32);
    let mut zones = zones;
    zones.sort_by_key(|z| z.z);
    let mut owned = Vec::new();
    // No background: the output's background node lies under it (see
    // `offscreen`), and every full-screen quad costs a pass over all pixels
    // on a software rasterizer.
    let layer = commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            width: px(w),
            height: px(h),
            ..default()
        })
        .id();
    for (i, zone) in zones.iter().enumerate() {
        let size = Vec2::new(w * zone.width / 100.0, h * zone.height / 100.0);
        let alone = !zones
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && overlap(other, zone));
        match &target {
            // A zone no other zone overlaps draws through its own camera: a
            // ticker frame then rasterizes the ticker's strip only.
            Some(target) if alone => {
                let min = Vec2::new(w * zone.x / 100.0, h * zone.y / 100.0);
                let camera = commands
                    .spawn(super::offscreen::zone_camera(
                        target,
                        1 + i as isize,
                        Rect::from_corners(min, min + size),
                    ))
                    .id();
                let root = commands
                    .spawn((
                        ZoneBox::new(&zone.name, size),
                        Node {
                            width: percent(100),
                            height: percent(100),
                            overflow: Overflow::clip(),
                            ..default()
                        },
                        UiTargetCamera(camera),
                    ))
                    .id();
                owned.extend([camera, root]);
            }
            _ => {
                // Only a zone over another one needs its own background.
                let covers = zones[..i].iter().any(|below| overlap(below, zone));
                let mut e = commands.spawn((
                    ZoneBox::new(&zone.name, size),
                    zone_node(zone),
                    ZIndex(zone.z),
                    ChildOf(layer),
                ));
                if covers {
                    e.insert(BackgroundColor(palette::BACKGROUND));
                }
            }
        }
    }
    commands.entity(layer).insert(ZoneLayer { version, owned });
}

/// Whether two zones share any area.
fn overlap(a: &Zone, b: &Zone) -> bool {
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

fn zone_node(z: &Zone) -> Node {
    Node {
        position_type: PositionType::Absolute,
        left: percent(z.x),
        top: percent(z.y),
        width: percent(z.width),
        height: percent(z.height),
        overflow: Overflow::clip(),
        ..default()
    }
}

/// What item spawning needs to know.
pub struct Ctx<'a> {
    pub fonts: &'a Fonts,
    pub size: Vec2,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub town: &'a str,
    pub live: &'a [LiveData],
    pub assets: &'a AssetServer,
    pub data_dir: &'a std::path::Path,
    /// The control server's address (livestreams come from it).
    pub server: &'a str,
    /// Connected to the server now: its `stale` marks are current, so the
    /// local age check (the fallback) is not needed.
    pub online: bool,
    /// The clock is trusted ([`crate::clock`]); else clocks show no time.
    pub clock_known: bool,
}

impl Ctx<'_> {
    /// The shorter side: type sizes scale with it.
    fn base(&self) -> f32 {
        self.size.x.min(self.size.y)
    }
}

#[allow(clippy::too_many_arguments)]
fn refresh_zones(
    mut commands: Commands,
    now: Res<Now>,
    manifest: Res<CurrentManifest>,
    fonts: Res<Fonts>,
    live: Res<Live>,
    settings: Res<Settings>,
    assets: Res<AssetServer>,
    link: Option<Res<NetLink>>,
    (conn, clock, power): (
        Res<Connection>,
        Res<ClockTrust>,
        Res<super::screen_power::ScreenPower>,
    ),
    mut last: Local<(i64, i64)>,
    mut zones: Query<(Entity, &mut ZoneBox)>,
    children: Query<&Children>,
    contents: Query<(), With<ZoneContent>>,
    leaving: Query<(), With<Leaving>>,
    entering: Query<&Entering>,
) {
    let at = now.get();
    // While the clock is not trusted, the fallback plays (see `crate::clock`).
    let source = clock.source(at);
    let showings: Vec<(String, Option<Showing<'_>>)> = match &manifest.0 {
        Some(m) => zones_from(m, at, source)
            .into_iter()
            .map(|(z, s)| (z.name.clone(), s))
            .collect(),
        None => vec![(MAIN_ZONE.to_owned(), None)],
    };
    let tz = manifest
        .0
        .as_ref()
        .map_or(chrono_tz::Europe::Berlin, |m| m.display.timezone.0);
    let town = manifest
        .0
        .as_ref()
        .map_or("Stadtbildschirm", |m| m.display.name.as_str());
    // Live panels are rebuilt on new data, when the connection comes or goes
    // (whose staleness marks count changes), and once a minute while offline,
    // so the local age check marks a reading that ages with no server to say so.
    let minute = at.timestamp().div_euclid(60);
    let offline_tick = !conn.online && last.1 != minute;
    last.1 = minute;
    // Clocks in zones (the idle screen's too) show the time once it is known.
    let clock_changed = clock.is_changed();
    let live_changed = live.is_changed() || conn.is_changed() || offline_tick;
    for (entity, mut zone) in &mut zones {
        // Night mode: nothing plays on a screen that is off (a video stops
        // decoding). What showed ends now for proof of play; the zone is
        // filled anew when the screen is on.
        if power.off {
            if zone.drawn
                && let Ok(c) = children.get(entity)
            {
                for e in c.iter().filter(|e| contents.contains(*e)) {
                    commands.entity(e).despawn();
                }
            }
            zone.end_play(link.as_deref(), at);
            zone.key = None;
            zone.drawn = false;
            continue;
        }
        let showing = showings
            .iter()
            .find(|(n, _)| *n == zone.name)
            .and_then(|(_, s)| s.clone());
        // Failures count for the scheduled entry they happened in; after
        // it the schedule tries every item again.
        let scheduled_key = zone_key(&showing);
        if zone.failed_for != scheduled_key && !zone.failed.is_empty() {
            zone.failed.clear();
        }
        zone.failed_for = scheduled_key;
        let showing = match (&manifest.0, zone.failed.is_empty()) {
            // The next playable item fills the rest of the entry; with none,
            // the failed item stays (its last frame or card).
            (Some(m), false) => substitute(m, &zone.name, at, source, &zone.failed).or(showing),
            _ => showing,
        };
        let key = zone_key(&showing);
        let live_item = showing.as_ref().is_some_and(|s| {
            matches!(
                s.item.content,
                ItemKind::TransitBoard { .. } | ItemKind::SensorPanel { .. }
            )
        });
        if zone.drawn && zone.key == key && !(live_changed && live_item) && !clock_changed {
            continue;
        }
        let first_fill_done = zone.drawn;
        let key_changed = zone.key != key;
        let wrappers: Vec<Entity> = children
            .get(entity)
            .map(|c| {
                c.iter()
                    .filter(|e| contents.contains(*e) && !leaving.contains(*e))
                    .collect()
            })
            .unwrap_or_default();
        // A transition still running: finish it at once, the newest wins.
        for &w in &wrappers {
            if let Ok(e) = entering.get(w) {
                for &old in &e.leaving {
                    commands.entity(old).despawn();
                }
                commands
                    .entity(w)
                    .remove::<(Entering, super::redraw::Animated)>();
            }
        }
        // Proof of play for what just ended.
        if zone.key != key {
            zone.end_play(link.as_deref(), at);
        }
        if zone.key != key || zone.shown.is_none() {
            zone.shown = showing
                .as_ref()
                .map(|s| (s.item.id, Some(s.entry.schedule), at));
        }
        zone.key = key;
        zone.drawn = true;
        let ctx = Ctx {
            fonts: &fonts,
            size: zone.size,
            tz,
            now: at,
            town,
            live: &live.0,
            assets: &assets,
            data_dir: &settings.data_dir,
            online: conn.online,
            server: &conn.server,
            clock_known: clock.trusted,
        };
        // A new item slides in over the old one once its images are loaded
        // (both on screen meanwhile: never a blank or black frame). The
        // first fill and a live-data refresh of the same item swap at once.
        let slide = first_fill_done && key_changed && !wrappers.is_empty();
        let wrapper = commands
            .spawn((
                ZoneContent,
                Node {
                    position_type: PositionType::Absolute,
                    left: px(if slide { zone.size.x } else { 0.0 }),
                    top: px(0),
                    width: percent(100),
                    height: percent(100),
                    ..default()
                },
            ))
            .with_children(|p| match &showing {
                Some(s) => spawn_item(p, &ctx, s.item, s.started_at),
                None => spawn_idle(p, &ctx),
            })
            .id();
        if slide {
            for &old in &wrappers {
                commands.entity(old).insert(Leaving);
            }
            commands.entity(wrapper).insert(Entering {
                started: None,
                width: zone.size.x,
                leaving: wrappers,
            });
        } else {
            for old in wrappers {
                commands.entity(old).despawn();
            }
        }
        commands.entity(entity).add_child(wrapper);
    }
    if let Some(link) = &link
        && last.0 != at.timestamp()
    {
        last.0 = at.timestamp();
        report_status(link, &zones);
    }
}

/// Tells the network side what plays, once a second.
fn report_status(link: &NetLink, zones: &Query<(Entity, &mut ZoneBox)>) {
    let now_playing = zones
        .iter()
        .filter_map(|(_, z)| {
            z.key.map(|(item, _)| NowPlaying {
                zone: z.name.clone(),
                item,
            })
        })
        .collect();
    link.report(AppReport::Status {
        fps: 0.0,
        now_playing,
    });
}

fn column() -> Node {
    Node {
        width: percent(100),
        height: percent(100),
        flex_direction: FlexDirection::Column,
        justify_content: JustifyContent::Center,
        align_items: AlignItems::Center,
        ..default()
    }
}

/// The largest font size (at most `max`) at which `text` fits a box of
/// `width` × `height` when wrapped at word boundaries. An estimate from the
/// font's average advance (DejaVu Sans: about 0.55 em), on the safe side.
pub fn fit_font(text: &str, width: f32, height: f32, max: f32, min: f32) -> f32 {
    let mut size = max;
    while size > min {
        let per_line = ((width / (size * 0.58)).floor() as usize).max(1);
        let lines: usize = text
            .split('\n')
            .map(|para| wrapped_lines(para, per_line))
            .sum();
        if lines as f32 * size * 1.3 <= height {
            return size;
        }
        size *= 0.92;
    }
    min
}

fn wrapped_lines(para: &str, per_line: usize) -> usize {
    let mut lines = 1;
    let mut used = 0;
    for word in para.split_whitespace() {
        let len = word.chars().count();
        if used > 0 && used + 1 + len <= per_line {
            used += 1 + len;
            continue;
        }
        if used == 0 && len <= per_line {
            used = len;
            continue;
        }
        if used > 0 {
            lines += 1;
        }
        // A word longer than a line breaks over several.
        lines += (len - 1) / per_line;
        used = (len - 1) % per_line + 1;
    }
    lines
}

pub fn spawn_item(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    item: &ContentItem,
    started_at: DateTime<Utc>,
) {
    match &item.content {
        ItemKind::Announcement { title, body, image } => {
            spawn_announcement(p, ctx, title, body, image.as_ref())
        }
        ItemKind::Image { asset, fit } => {
            spawn_image(p, ctx, &asset.sha256, *fit, ctx.size);
        }
        ItemKind::Clock { show_date } => spawn_clock(p, ctx, *show_date, None),
        ItemKind::Ticker {
            text,
            speed_px_per_s,
        } => spawn_ticker(p, ctx, text, *speed_px_per_s, started_at),
        ItemKind::TransitBoard { stops, max_rows } => spawn_transit(p, ctx, stops, *max_rows),
        ItemKind::SensorPanel {
            stations,
            quantities,
        } => spawn_sensors(p, ctx, stations, quantities),
        ItemKind::EmergencyAlert(alert) => super::alert::spawn_takeover(p, ctx, alert),
        ItemKind::Video { asset, .. } => {
            let path = ctx.data_dir.join("cache").join(&asset.sha256);
            let uri = crate::video::file_uri(&path);
            spawn_video(p, ctx, item, uri, true);
        }
        ItemKind::Livestream { hls_path } => {
            let uri = format!("{}{hls_path}", ctx.server.trim_end_matches('/'));
            spawn_video(p, ctx, item, Some(uri), false);
        }
    }
}

/// A placeholder card with the video's node over it, hidden until its first
/// frame: never a black zone while a stream starts or after it failed.
fn spawn_video(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    item: &ContentItem,
    uri: Option<String>,
    looping: bool,
) {
    p.spawn(Node {
        width: percent(100),
        height: percent(100),
        ..default()
    })
    .with_children(|b| {
        spawn_card(b, ctx, &item.name, "Video wird geladen");
        let Some(uri) = uri else { return };
        b.spawn((
            super::video::VideoRequest {
                item: item.id,
                uri,
                size: UVec2::new(ctx.size.x.round() as u32, ctx.size.y.round() as u32),
                looping,
            },
            Node {
                position_type: PositionType::Absolute,
                left: px(0),
                top: px(0),
                width: px(ctx.size.x),
                height: px(ctx.size.y),
                ..default()
            },
            Visibility::Hidden,
        ));
    });
}

fn spawn_announcement(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    title: &str,
    body: &str,
    image: Option<&content::model::AssetRef>,
) {
    let pad = ctx.base() * 0.05;
    let landscape = ctx.size.x > ctx.size.y * 1.2;
    let text_box = match (image.is_some(), landscape) {
        (true, true) => Vec2::new(ctx.size.x * 0.55 - 2.0 * pad, ctx.size.y - 2.0 * pad),
        (true, false) => Vec2::new(ctx.size.x - 2.0 * pad, ctx.size.y * 0.55 - 2.0 * pad),
        (false, _) => ctx.size - Vec2::splat(2.0 * pad),
    };
    let title_px = fit_font(
        title,
        text_box.x,
        text_box.y * 0.3,
        ctx.base() * 0.085,
        ctx.base() * 0.03,
    );
    let body_px = fit_font(
        body,
        text_box.x,
        text_box.y * 0.65,
        ctx.base() * 0.05,
        ctx.base() * 0.018,
    );
    p.spawn(Node {
        width: percent(100),
        height: percent(100),
        flex_direction: if landscape {
            FlexDirection::Row
        } else {
            FlexDirection::Column
        },
        ..default()
    })
    .with_children(|row| {
        if let Some(img) = image {
            let img_box = if landscape {
                Vec2::new(ctx.size.x * 0.45, ctx.size.y)
            } else {
                Vec2::new(ctx.size.x, ctx.size.y * 0.45)
            };
            row.spawn(Node {
                width: px(img_box.x),
                height: px(img_box.y),
                flex_shrink: 0.0,
                overflow: Overflow::clip(),
                ..default()
            })
            .with_children(|b| spawn_image(b, ctx, &img.sha256, Fit::Cover, img_box));
        }
        row.spawn(Node {
            flex_grow: 1.0,
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::Center,
            padding: UiRect::all(px(pad)),
            row_gap: px(pad * 0.6),
            ..default()
        })
        .with_children(|col| {
            col.spawn((
                Text::new(title),
                ctx.fonts.bold(title_px),
                TextColor(palette::TEXT),
            ));
            col.spawn((
                Text::new(body),
                ctx.fonts.regular(body_px),
                TextColor(palette::MUTED),
            ));
        });
    });
}

/// The pixel size of an image file, from its header only.
fn image_dimensions(path: &std::path::Path) -> Option<(u32, u32)> {
    image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

fn spawn_image(p: &mut ChildSpawnerCommands, ctx: &Ctx, sha256: &str, fit: Fit, area: Vec2) {
    let rel = format!("cache/{sha256}");
    let Some((iw, ih)) = image_dimensions(&ctx.data_dir.join(&rel)) else {
        spawn_card(p, ctx, "", "Bild nicht verfügbar");
        return;
    };
    let scale_x = area.x / iw as f32;
    let scale_y = area.y / ih as f32;
    let scale = match fit {
        Fit::Contain => scale_x.min(scale_y),
        Fit::Cover => scale_x.max(scale_y),
    };
    let size = Vec2::new(iw as f32 * scale, ih as f32 * scale);
    let handle: Handle<Image> = ctx
        .assets
        .load_builder()
        .with_settings(|s: &mut ImageLoaderSettings| s.format = ImageFormatSetting::Guess)
        .load(rel);
    p.spawn(Node {
        width: px(area.x),
        height: px(area.y),
        justify_content: JustifyContent::Center,
        align_items: AlignItems::Center,
        overflow: Overflow::clip(),
        ..default()
    })
    .with_children(|b| {
        b.spawn((
            ImageNode::new(handle),
            Node {
                width: px(size.x),
                height: px(size.y),
                flex_shrink: 0.0,
                ..default()
            },
        ));
    });
}

/// The time and date a clock shows; while the time is not known ("--:--",
/// no date) rather than a wrong one.
fn clock_strings(now: DateTime<Utc>, tz: Tz, known: bool) -> (String, String) {
    if !known {
        return (UNKNOWN_TIME.into(), String::new());
    }
    let local = now.with_timezone(&tz);
    (
        crate::german::time_hm(&local),
        crate::german::long_date(&local),
    )
}

fn spawn_clock(p: &mut ChildSpawnerCommands, ctx: &Ctx, show_date: bool, heading: Option<&str>) {
    let (time, date) = clock_strings(ctx.now, ctx.tz, ctx.clock_known);
    let width = ctx.size.x * 0.9;
    p.spawn(column()).with_children(|c| {
        if let Some(h) = heading {
            let size = fit_font(h, width, ctx.size.y * 0.2, ctx.base() * 0.09, 10.0);
            c.spawn((Text::new(h), ctx.fonts.bold(size), TextColor(palette::TEXT)));
        }
        // "00:00" in DejaVu Sans Bold is about 3.6 em wide; keep a margin.
        let time_px = (width / 3.9)
            .min(ctx.size.y * 0.45 / 1.3)
            .min(ctx.base() * 0.3);
        c.spawn((
            Text::new(time),
            ctx.fonts.bold(time_px),
            TextColor(palette::TEXT),
            ClockText {
                part: ClockPart::Time,
                tz: ctx.tz,
            },
        ));
        if show_date {
            let date_px = fit_font(&date, width, ctx.size.y * 0.2, ctx.base() * 0.07, 10.0);
            c.spawn((
                Text::new(date),
                ctx.fonts.regular(date_px),
                TextColor(palette::MUTED),
                TextLayout::justify(Justify::Center),
                ClockText {
                    part: ClockPart::Date,
                    tz: ctx.tz,
                },
            ));
        }
    });
}

/// What a clock shows while the player's clock is not trusted.
pub const UNKNOWN_TIME: &str = "--:--";

/// The idle screen: the town's name and the clock.
pub fn spawn_idle(p: &mut ChildSpawnerCommands, ctx: &Ctx) {
    spawn_clock(p, ctx, true, Some(ctx.town));
}

fn spawn_card(p: &mut ChildSpawnerCommands, ctx: &Ctx, title: &str, note: &str) {
    p.spawn((column(), BackgroundColor(palette::PANEL)))
        .with_children(|c| {
            if !title.is_empty() {
                let size = fit_font(
                    title,
                    ctx.size.x * 0.9,
                    ctx.size.y * 0.3,
                    ctx.base() * 0.07,
                    10.0,
                );
                c.spawn((
                    Text::new(title),
                    ctx.fonts.bold(size),
                    TextColor(palette::TEXT),
                ));
            }
            let size = fit_font(
                note,
                ctx.size.x * 0.9,
                ctx.size.y * 0.3,
                ctx.base() * 0.05,
                10.0,
            );
            c.spawn((
                Text::new(note),
                ctx.fonts.regular(size),
                TextColor(palette::MUTED),
            ));
        });
}

fn ticker_x(t: &Ticker, now: DateTime<Utc>, text_width: f32) -> f32 {
    let elapsed = (now - t.started_at).num_milliseconds().max(0) as f32 / 1000.0;
    let period = t.zone_width + text_width;
    t.zone_width - (elapsed * t.speed) % period.max(1.0)
}

fn spawn_ticker(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    text: &str,
    speed: u16,
    started_at: DateTime<Utc>,
) {
    let px_size = (ctx.size.y * 0.6).min(ctx.base() * 0.6);
    let ticker = Ticker {
        speed: f32::from(speed),
        zone_width: ctx.size.x,
        started_at,
        estimated_width: text.chars().count() as f32 * px_size * 0.6,
    };
    let x = ticker_x(&ticker, ctx.now, ticker.estimated_width);
    p.spawn((
        Node {
            width: percent(100),
            height: percent(100),
            align_items: AlignItems::Center,
            overflow: Overflow::clip(),
            ..default()
        },
        BackgroundColor(palette::PANEL),
    ))
    .with_children(|row| {
        row.spawn((
            Text::new(text),
            ctx.fonts.regular(px_size),
            TextColor(palette::TEXT),
            TextLayout::no_wrap(),
            Node {
                position_type: PositionType::Absolute,
                left: px(0),
                ..default()
            },
            UiTransform::from_translation(Val2::px(x, 0.0)),
            ticker,
            // Moves every frame: updates run at the frame rate while it shows.
            super::redraw::Animated,
        ));
    });
}

fn spawn_transit(p: &mut ChildSpawnerCommands, ctx: &Ctx, stops: &[String], max_rows: u8) {
    let boards: Vec<(&Vec<content::live::Departure>, &Vec<ServiceAlert>)> = ctx
        .live
        .iter()
        .filter_map(|d| match d {
            LiveData::Departures {
                stop_id,
                departures,
                alerts,
                ..
            } if stops.is_empty() || stops.contains(stop_id) => Some((departures, alerts)),
            _ => None,
        })
        .collect();
    let notes = alert_notes(ctx, boards.iter().flat_map(|(_, a)| a.iter()));
    let departures: Vec<&content::live::Departure> = boards
        .iter()
        .flat_map(|(d, _)| d.iter())
        .filter(|d| d.expected.unwrap_or(d.planned) >= ctx.now - chrono::Duration::minutes(1))
        .collect();
    let mut departures = departures;
    departures.sort_by_key(|d| d.expected.unwrap_or(d.planned));
    departures.truncate(usize::from(max_rows.max(1)));
    let rows: Vec<Vec<Cell>> = departures
        .iter()
        .map(|d| {
            let planned = crate::german::time_hm(&d.planned.with_timezone(&ctx.tz));
            let (status, colour) = if d.cancelled {
                ("fällt aus".to_owned(), colours::BAD)
            } else {
                match d.delay_minutes() {
                    Some(m) if m >= 5 => (format!("+{m}"), colours::BAD),
                    Some(m) if m > 0 => (format!("+{m}"), colours::WARN),
                    Some(_) => ("pünktlich".to_owned(), colours::GOOD),
                    None => (String::new(), palette::MUTED),
                }
            };
            // A cancelled departure stays readable but is visibly out.
            let text = if d.cancelled {
                palette::MUTED
            } else {
                palette::TEXT
            };
            vec![
                (d.line.clone(), text),
                (d.destination.clone(), text),
                (planned, text),
                (status, colour),
                occupancy(d.occupancy),
            ]
        })
        .collect();
    spawn_table(
        p,
        ctx,
        "Abfahrten",
        rows,
        &[0.12, 0.44, 0.14, 0.18, 0.12],
        &notes,
    );
}

/// The most service alerts a board shows: the departures keep most of it.
const MAX_ALERT_NOTES: usize = 3;

/// The service alerts in force, one line each ("header (bis 18:00)"); the
/// same alert reported for two stops shows once. Without a header the
/// description stands in; an alert with neither says nothing and is left out.
fn alert_notes<'a>(ctx: &Ctx, alerts: impl Iterator<Item = &'a ServiceAlert>) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut notes = Vec::new();
    for a in alerts {
        if seen.contains(&a.id.as_str()) || a.until.is_some_and(|u| u <= ctx.now) {
            continue;
        }
        let Some(text) = a
            .header
            .as_deref()
            .or(a.description.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            continue;
        };
        seen.push(&a.id);
        // No-break spaces keep "bis 17:21 Uhr" on one line.
        let until = a.until.map(|u| {
            let u = u.with_timezone(&ctx.tz);
            if u.date_naive() == ctx.now.with_timezone(&ctx.tz).date_naive() {
                format!(" (bis\u{a0}{}\u{a0}Uhr)", crate::german::time_hm(&u))
            } else {
                format!(" (bis\u{a0}{})", u.format("%d.%m."))
            }
        });
        notes.push(format!("{text}{}", until.unwrap_or_default()));
        if notes.len() == MAX_ALERT_NOTES {
            break;
        }
    }
    notes
}

fn spawn_sensors(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    stations: &[String],
    quantities: &[Quantity],
) {
    let rows: Vec<Vec<Cell>> = quantities
        .iter()
        .filter_map(|q| {
            let r = ctx
                .live
                .iter()
                .filter_map(|d| match d {
                    LiveData::Sensors { readings } => Some(readings),
                    _ => None,
                })
                .flatten()
                .filter(|r| {
                    r.quantity == *q && (stations.is_empty() || stations.contains(&r.station))
                })
                .max_by_key(|r| r.measured_at)?;
            let stale = reading_stale(r, ctx.now, ctx.online);
            let trend = match r.trend {
                Some(Trend::Rising) => "↑",
                Some(Trend::Falling) => "↓",
                Some(Trend::Steady) => "→",
                None => "",
            };
            let (class, colour) = match r.class {
                Some(AirQualityClass::SehrGut) => ("sehr gut", colours::AQ[0]),
                Some(AirQualityClass::Gut) => ("gut", colours::AQ[1]),
                Some(AirQualityClass::Maessig) => ("mäßig", colours::AQ[2]),
                Some(AirQualityClass::Schlecht) => ("schlecht", colours::AQ[3]),
                Some(AirQualityClass::SehrSchlecht) => ("sehr schlecht", colours::AQ[4]),
                None => ("", palette::MUTED),
            };
            let value = format!("{:.1}", r.value).replace('.', ",");
            // An old value is greyed and marked, its class no longer claimed.
            Some(if stale {
                vec![
                    (q.label_de().to_owned(), palette::MUTED),
                    (format!("{value} {}", q.unit()), palette::MUTED),
                    ("⚠ veraltet".into(), colours::WARN),
                ]
            } else {
                vec![
                    (q.label_de().to_owned(), palette::TEXT),
                    (format!("{value} {} {trend}", q.unit()), palette::TEXT),
                    (class.into(), colour),
                ]
            })
        })
        .collect();
    spawn_table(p, ctx, "Messwerte", rows, &[0.4, 0.35, 0.25], &[]);
}

/// How old a reading may get before the player itself calls it stale, when
/// the server cannot say so (unreachable).
pub const LOCAL_STALE_AFTER: chrono::Duration = chrono::Duration::hours(3);

/// Whether a reading is shown as "veraltet": the server's mark (it knows its
/// configured age and re-sends a reading when it turns stale), or, while the
/// server is unreachable and cannot re-send, the local age check.
fn reading_stale(r: &content::live::SensorReading, now: DateTime<Utc>, online: bool) -> bool {
    r.stale || (!online && now - r.measured_at > LOCAL_STALE_AFTER)
}

/// A table cell: text and colour.
type Cell = (String, Color);

/// Colours with a meaning on the panels.
mod colours {
    use bevy::prelude::Color;
    /// Air-quality classes "sehr gut" to "sehr schlecht", after the
    /// Umweltbundesamt's index colours, lightened for a dark background.
    pub const AQ: [Color; 5] = [
        Color::srgb(0.31, 0.94, 0.90),
        Color::srgb(0.31, 0.80, 0.67),
        Color::srgb(0.94, 0.90, 0.25),
        Color::srgb(1.0, 0.35, 0.35),
        Color::srgb(0.85, 0.30, 0.55),
    ];
    pub const GOOD: Color = Color::srgb(0.45, 0.85, 0.45);
    pub const WARN: Color = Color::srgb(1.0, 0.76, 0.03);
    pub const BAD: Color = Color::srgb(1.0, 0.40, 0.35);
}

/// Occupancy as filled and empty person marks, coloured by how full.
fn occupancy(o: Option<content::live::Occupancy>) -> Cell {
    use content::live::Occupancy as O;
    match o {
        Some(O::Empty) | Some(O::ManySeatsAvailable) => ("●○○".into(), colours::GOOD),
        Some(O::FewSeatsAvailable) => ("●●○".into(), colours::WARN),
        Some(O::StandingRoomOnly) | Some(O::Full) => ("●●●".into(), colours::BAD),
        None => (String::new(), palette::MUTED),
    }
}

/// A heading and rows of cells (column widths as shares), or "keine Daten",
/// then warning notes under them. Cells do not wrap; a font size that fits
/// the widest cell keeps every word whole. Notes wrap at word boundaries in
/// the lower part of the box, their size fitted to it.
fn spawn_table(
    p: &mut ChildSpawnerCommands,
    ctx: &Ctx,
    heading: &str,
    rows: Vec<Vec<Cell>>,
    widths: &[f32],
    notes: &[String],
) {
    let pad = ctx.base() * 0.04;
    let n = rows.len().max(3) as f32;
    // Notes get up to a third of the height; the rows share the rest.
    let notes_h = if notes.is_empty() {
        0.0
    } else {
        (ctx.size.y - 3.0 * pad) * 0.33
    };
    let mut row_px = ((ctx.size.y - 3.0 * pad - notes_h) / (n + 1.5) / 1.5).min(ctx.base() * 0.07);
    let inner = ctx.size.x - 2.0 * pad;
    // Shrink until the longest cell of each column fits its share (the same
    // average-advance estimate as `fit_font`).
    for row in &rows {
        for ((text, _), w) in row.iter().zip(widths) {
            let chars = text.chars().count() as f32 + 1.0;
            let fits = inner * w / (chars * 0.6);
            row_px = row_px.min(fits.max(8.0));
        }
    }
    p.spawn((
        Node {
            width: percent(100),
            height: percent(100),
            flex_direction: FlexDirection::Column,
            padding: UiRect::all(px(pad)),
            row_gap: px(row_px * 0.4),
            ..default()
        },
        BackgroundColor(palette::PANEL),
    ))
    .with_children(|t| {
        t.spawn((
            Text::new(heading),
            ctx.fonts.bold(row_px * 1.3),
            TextColor(palette::TEXT),
        ));
        if rows.is_empty() {
            t.spawn((
                Text::new("keine Daten"),
                ctx.fonts.regular(row_px),
                TextColor(palette::MUTED),
            ));
            return;
        }
        for row in rows {
            t.spawn(Node {
                flex_direction: FlexDirection::Row,
                width: percent(100),
                ..default()
            })
            .with_children(|r| {
                for ((cell, colour), w) in row.into_iter().zip(widths) {
                    r.spawn((
                        Node {
                            width: percent(w * 100.0),
                            overflow: Overflow::clip(),
                            ..default()
                        },
                        children![(
                            Text::new(cell),
                            ctx.fonts.regular(row_px),
                            TextColor(colour),
                            TextLayout::no_wrap(),
                        )],
                    ));
                }
            });
        }
    })
    .with_children(|t| {
        if notes.is_empty() {
            return;
        }
        // "⚠ " before each note: its width counted as two characters.
        let text: String = notes
            .iter()
            .map(|n| format!("⚠ {n}"))
            .collect::<Vec<_>>()
            .join("\n");
        let gaps = notes.len() as f32 * row_px * 0.3;
        let note_px = fit_font(&text, inner, notes_h - gaps, row_px, 8.0);
        t.spawn(Node {
            flex_direction: FlexDirection::Column,
            width: percent(100),
            margin: UiRect::top(px(row_px * 0.4)),
            row_gap: px(row_px * 0.3),
            ..default()
        })
        .with_children(|col| {
            for note in notes {
                col.spawn((
                    Text::new("⚠ "),
                    ctx.fonts.bold(note_px),
                    TextColor(colours::WARN),
                    Node {
                        max_width: percent(100),
                        ..default()
                    },
                    children![(
                        TextSpan::new(note.as_str()),
                        ctx.fonts.regular(note_px),
                        TextColor(palette::TEXT),
                    )],
                ));
            }
        });
    });
}

/// Moves transitions on: waits for the new content's images, then slides it
/// in from the right while the old content slides out (position from the
/// elapsed time, eased), and removes the old content at the end.
#[allow(clippy::type_complexity)]
fn transitions(
    mut commands: Commands,
    assets: Res<AssetServer>,
    mut entering: Query<(Entity, &mut Entering)>,
    mut nodes: Query<&mut Node, With<ZoneContent>>,
    children: Query<&Children>,
    images: Query<&ImageNode>,
) {
    for (entity, mut t) in &mut entering {
        let started = match t.started {
            Some(s) => s,
            None => {
                let ready = children
                    .iter_descendants(entity)
                    .all(|e| match images.get(e) {
                        Err(_) => true,
                        Ok(n) => {
                            assets.is_loaded_with_dependencies(&n.image)
                                || assets.load_state(&n.image).is_failed()
                                || assets.get_path(n.image.id()).is_none()
                        }
                    });
                if !ready {
                    continue;
                }
                let now = std::time::Instant::now();
                t.started = Some(now);
                now
            }
        };
        let p = (started.elapsed().as_secs_f32() / TRANSITION.as_secs_f32()).min(1.0);
        let eased = p * p * (3.0 - 2.0 * p);
        let shift = t.width * eased;
        if let Ok(mut node) = nodes.get_mut(entity) {
            node.left = px((t.width - shift).round());
        }
        for &old in &t.leaving {
            if let Ok(mut node) = nodes.get_mut(old) {
                node.left = px(-shift.round());
            }
        }
        if p >= 1.0 {
            for &old in &t.leaving {
                commands.entity(old).despawn();
            }
            commands
                .entity(entity)
                .remove::<(Entering, super::redraw::Animated)>();
        }
    }
}

fn tick_clocks(
    now: Res<Now>,
    trust: Res<ClockTrust>,
    mut last: Local<i64>,
    mut texts: Query<(&mut Text, &ClockText)>,
) {
    let at = now.get();
    if *last == at.timestamp() && !trust.is_changed() {
        return;
    }
    *last = at.timestamp();
    for (mut text, clock) in &mut texts {
        let (time, date) = clock_strings(at, clock.tz, trust.trusted);
        let want = match clock.part {
            ClockPart::Time => time,
            ClockPart::Date => date,
        };
        if text.0 != want {
            text.0 = want;
        }
    }
}

/// Moves tickers by their transform, not their `Node`: a node change would
/// lay the tree out again every frame, a transform only moves the drawing.
fn scroll_tickers(now: Res<Now>, mut tickers: Query<(&mut UiTransform, &Ticker, &ComputedNode)>) {
    let at = now.get();
    for (mut transform, ticker, computed) in &mut tickers {
        let width = if computed.size.x > 0.0 {
            computed.size.x * computed.inverse_scale_factor
        } else {
            ticker.estimated_width
        };
        let x = Val2::px(ticker_x(ticker, at, width), 0.0);
        if transform.translation != x {
            transform.translation = x;
        }
    }
}

fn offline_notice(
    mut commands: Commands,
    phase: Res<State<Phase>>,
    fonts: Res<Fonts>,
    settings: Res<Settings>,
    notices: Query<Entity, With<OfflineNotice>>,
) {
    let want = *phase.get() == Phase::Offline;
    let have = !notices.is_empty();
    if want == have {
        return;
    }
    if !want {
        for e in &notices {
            commands.entity(e).despawn();
        }
        return;
    }
    let size = settings.width.min(settings.height) as f32 * 0.018;
    commands.spawn((
        OfflineNotice,
        Node {
            position_type: PositionType::Absolute,
            right: px(size),
            bottom: px(size),
            padding: UiRect::all(px(size * 0.4)),
            ..default()
        },
        GlobalZIndex(900),
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6)),
        children![(
            Text::new("offline – spielt aus dem Speicher"),
            fonts.regular(size),
            TextColor(palette::MUTED),
        )],
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_shows_no_time_while_the_time_is_not_known() {
        let now: DateTime<Utc> = "2026-11-22T10:05:00Z".parse().unwrap();
        let tz = chrono_tz::Europe::Berlin;
        let (time, date) = clock_strings(now, tz, true);
        assert_eq!(time, "11:05");
        assert!(!date.is_empty());
        assert_eq!(
            clock_strings(now, tz, false),
            ("--:--".into(), String::new())
        );
    }

    #[test]
    fn long_text_gets_a_smaller_font_and_never_below_the_minimum() {
        let short = fit_font("Kurz", 1000.0, 200.0, 80.0, 10.0);
        assert_eq!(short, 80.0);
        let long = "Bitte beachten Sie die geänderten Öffnungszeiten. ".repeat(20);
        let small = fit_font(&long, 1000.0, 400.0, 80.0, 10.0);
        assert!((10.0..40.0).contains(&small), "{small}");
        assert_eq!(fit_font(&long.repeat(50), 100.0, 50.0, 80.0, 10.0), 10.0);
    }

    #[test]
    fn the_server_mark_decides_online_and_the_local_age_only_offline() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let reading = |age_min: i64, stale: bool| content::live::SensorReading {
            station: "s1".into(),
            quantity: Quantity::Pm10,
            value: 10.0,
            measured_at: now - chrono::Duration::minutes(age_min),
            trend: None,
            class: None,
            stale,
        };
        assert!(reading_stale(&reading(5, true), now, true));
        assert!(reading_stale(&reading(5, true), now, false));
        // Online the server's configured age counts, not the local one.
        assert!(!reading_stale(&reading(300, false), now, true));
        assert!(reading_stale(&reading(300, false), now, false));
        assert!(!reading_stale(&reading(60, false), now, false));
    }

    #[test]
    fn wrapping_counts_lines_at_word_boundaries() {
        assert_eq!(wrapped_lines("eins zwei drei", 9), 2);
        assert_eq!(wrapped_lines("eins zwei drei", 14), 1);
        // A word longer than a line takes several.
        assert_eq!(wrapped_lines("Donaudampfschifffahrt", 10), 3);
    }
}
