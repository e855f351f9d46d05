//! The shipped font (DejaVu Sans, with every German glyph and µ ³ °), built
//! into the binary so a player never depends on system fonts.

use bevy::prelude::*;
use bevy::text::{FontSize, FontSource};

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

#[derive(Resource, Debug, Clone)]
pub struct Fonts {
    pub regular: Handle<Font>,
    pub bold: Handle<Font>,
}

pub fn plugin(app: &mut App) {
    let mut fonts = app.world_mut().resource_mut::<Assets<Font>>();
    let regular = fonts.add(Font::from_bytes(REGULAR.to_vec()));
    let bold = fonts.add(Font::from_bytes(BOLD.to_vec()));
    app.insert_resource(Fonts { regular, bold });
}

impl Fonts {
    /// A text font of `px` pixels.
    pub fn regular(&self, px: f32) -> TextFont {
        TextFont {
            font: FontSource::from(self.regular.clone()),
            font_size: FontSize::Px(px.round().max(8.0)),
            ..default()
        }
    }

    pub fn bold(&self, px: f32) -> TextFont {
        TextFont {
            font: FontSource::from(self.bold.clone()),
            font_size: FontSize::Px(px.round().max(8.0)),
            ..default()
        }
    }
}
