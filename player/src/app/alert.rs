//! Emergency alerts: severe and extreme ones take the whole screen (high
//! contrast: white on red, headline, instruction, area, time); moderate and
//! minor ones run as a banner across the top while the schedule plays on.
//! Exercises are marked "ÜBUNG" in both forms.

use super::fonts::Fonts;
use super::link::NetLink;
use super::zones::{Ctx, fit_font};
use super::{Alerts, CurrentManifest, Now, PlayerSet, Settings, palette};
use crate::net::AppReport;
use crate::show::{alert_to_show, is_takeover};
use bevy::ecs::hierarchy::ChildSpawnerCommands;
use bevy::prelude::*;
use content::alert::{Alert, AlertStatus};

pub fn plugin(app: &mut App) {
    app.add_systems(Update, refresh.in_set(PlayerSet::Draw));
}

/// The alert layer, for the alert it shows.
#[derive(Component, Debug)]
pub struct AlertLayer {
    pub alert_id: String,
    pub takeover: bool,
}

#[allow(clippy::too_many_arguments)]
fn refresh(
    mut commands: Commands,
    now: Res<Now>,
    alerts: Res<Alerts>,
    fonts: Res<Fonts>,
    settings: Res<Settings>,
    manifest: Res<CurrentManifest>,
    assets: Res<AssetServer>,
    link: Option<Res<NetLink>>,
    layers: Query<(Entity, &AlertLayer)>,
) {
    let at = now.get();
    let want = alert_to_show(&alerts.0, at);
    let have = layers.iter().next();
    match (want, have) {
        (None, None) => return,
        (Some(a), Some((_, l))) if l.alert_id == a.id && l.takeover == is_takeover(a) => return,
        _ => {}
    }
    if let Some((e, _)) = have {
        commands.entity(e).despawn();
    }
    let Some(alert) = want else { return };
    let size = Vec2::new(settings.width as f32, settings.height as f32);
    let tz = manifest
        .0
        .as_ref()
        .map_or(chrono_tz::Europe::Berlin, |m| m.display.timezone.0);
    let takeover = is_takeover(alert);
    let layer = AlertLayer {
        alert_id: alert.id.clone(),
        takeover,
    };
    let banner_h = (size.y * 0.16).max(size.x.min(size.y) * 0.12);
    let ctx = Ctx {
        fonts: &fonts,
        size: if takeover {
            size
        } else {
            Vec2::new(size.x, banner_h)
        },
        tz,
        now: at,
        town: "",
        live: &[],
        assets: &assets,
        data_dir: &settings.data_dir,
        // An alert shows no live readings and no livestream.
        online: true,
        server: "",
        // An alert item shows no clock.
        clock_known: true,
    };
    let node = Node {
        position_type: PositionType::Absolute,
        left: px(0),
        top: px(0),
        width: percent(100),
        height: if takeover { percent(100) } else { px(banner_h) },
        ..default()
    };
    commands
        .spawn((layer, node, GlobalZIndex(1000)))
        .with_children(|p| {
            if takeover {
                spawn_takeover(p, &ctx, alert);
            } else {
                spawn_banner(p, &ctx, alert);
            }
        });
    if let Some(link) = link {
        link.report(AppReport::AlertShown {
            alert_id: alert.id.clone(),
            at,
        });
    }
}

fn exercise(a: &Alert) -> bool {
    a.status == AlertStatus::Exercise
}

/// The full-screen (or full-zone) warning.
pub fn spawn_takeover(p: &mut ChildSpawnerCommands, ctx: &Ctx, a: &Alert) {
    let base = ctx.size.x.min(ctx.size.y);
    let pad = base * 0.05;
    let width = ctx.size.x - 2.0 * pad;
    let local = a.sent.with_timezone(&ctx.tz);
    let head_px = fit_font(
        &a.headline,
        width,
        ctx.size.y * 0.25,
        base * 0.1,
        base * 0.03,
    );
    let instr_px = fit_font(
        &a.instruction,
        width,
        ctx.size.y * 0.3,
        base * 0.06,
        base * 0.02,
    );
    let small = base * 0.035;
    let fonts = ctx.fonts;
    p.spawn((
        Node {
            width: percent(100),
            height: percent(100),
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::Center,
            padding: UiRect::all(px(pad)),
            row_gap: px(pad * 0.5),
            ..default()
        },
        BackgroundColor(palette::ALERT_BG),
    ))
    .with_children(|c| {
        let label = if exercise(a) {
            "ÜBUNG – keine echte Warnung"
        } else {
            "WARNUNG"
        };
        c.spawn((
            Node {
                padding: UiRect::axes(px(small * 0.6), px(small * 0.3)),
                align_self: AlignSelf::FlexStart,
                ..default()
            },
            BackgroundColor(Color::WHITE),
            children![(
                Text::new(label),
                fonts.bold(small * 1.2),
                TextColor(palette::ALERT_BG),
            )],
        ));
        c.spawn((
            Text::new(a.headline.clone()),
            fonts.bold(head_px),
            TextColor(Color::WHITE),
        ));
        if !a.instruction.is_empty() {
            c.spawn((
                Text::new(a.instruction.clone()),
                fonts.regular(instr_px),
                TextColor(Color::WHITE),
            ));
        }
        let mut meta = format!(
            "{} · {}",
            a.area_description,
            crate::german::short_date_time(&local)
        );
        if !a.sender.is_empty() {
            meta.push_str(&format!(" · {}", a.sender));
        }
        c.spawn((
            Text::new(meta),
            fonts.regular(small),
            TextColor(Color::WHITE),
        ));
    });
}

fn spawn_banner(p: &mut ChildSpawnerCommands, ctx: &Ctx, a: &Alert) {
    let pad = ctx.size.y * 0.12;
    let mut line = String::new();
    if exercise(a) {
        line.push_str("ÜBUNG: ");
    }
    line.push_str(&a.headline);
    if !a.instruction.is_empty() {
        line.push_str(" – ");
        line.push_str(&a.instruction);
    }
    let px_size = fit_font(
        &line,
        ctx.size.x - 2.0 * pad,
        ctx.size.y * 0.62,
        ctx.size.y * 0.3,
        10.0,
    );
    let small = (ctx.size.y * 0.16).max(10.0);
    p.spawn((
        Node {
            width: percent(100),
            height: percent(100),
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::Center,
            padding: UiRect::axes(px(pad), px(pad * 0.5)),
            ..default()
        },
        BackgroundColor(palette::BANNER_BG),
    ))
    .with_children(|c| {
        c.spawn((
            Text::new(line),
            ctx.fonts.bold(px_size),
            TextColor(palette::BANNER_TEXT),
        ));
        c.spawn((
            Text::new(a.area_description.clone()),
            ctx.fonts.regular(small),
            TextColor(palette::BANNER_TEXT),
        ));
    });
}
