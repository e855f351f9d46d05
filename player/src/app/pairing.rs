//! The pairing screen: the six-digit code and the server address, full
//! screen, until staff adopt the display.

use super::fonts::Fonts;
use super::{Connection, Phase, PlayerSet, Settings, palette};
use bevy::prelude::*;

pub fn plugin(app: &mut App) {
    app.add_systems(Update, refresh.in_set(PlayerSet::Draw));
}

#[derive(Component, Debug)]
pub struct PairingLayer {
    code: Option<String>,
}

fn refresh(
    mut commands: Commands,
    phase: Res<State<Phase>>,
    conn: Res<Connection>,
    fonts: Res<Fonts>,
    settings: Res<Settings>,
    layers: Query<(Entity, &PairingLayer)>,
) {
    let want = (*phase.get() == Phase::Pairing).then(|| conn.pairing_code.clone());
    let have = layers.iter().next();
    match (&want, have) {
        (None, None) => return,
        (Some(code), Some((_, l))) if l.code == *code => return,
        _ => {}
    }
    if let Some((e, _)) = have {
        commands.entity(e).despawn();
    }
    let Some(code) = want else { return };
    let base = settings.width.min(settings.height) as f32;
    let (title, shown) = match &code {
        Some(c) => ("Diesen Bildschirm koppeln", spaced(c)),
        None => ("Verbinde mit dem Server …", "· · ·".to_owned()),
    };
    commands
        .spawn((PairingLayer { code }, super::full_screen(base, 500)))
        .with_children(|c| {
            c.spawn((
                Text::new(title),
                fonts.bold(base * 0.06),
                TextColor(palette::TEXT),
            ));
            c.spawn((
                Text::new(shown),
                fonts.bold(base * 0.2),
                TextColor(palette::TEXT),
            ));
            c.spawn((
                Text::new(format!("Code in der Verwaltung eingeben: {}", conn.server)),
                fonts.regular(base * 0.035),
                TextColor(palette::MUTED),
            ));
        });
}

/// "123456" → "123 456", easier to read from across a square.
fn spaced(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() == 6 {
        format!(
            "{} {}",
            chars[..3].iter().collect::<String>(),
            chars[3..].iter().collect::<String>()
        )
    } else {
        code.to_owned()
    }
}
