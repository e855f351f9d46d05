//! Video and livestream zones: a [`VideoRequest`] spawned with an item
//! becomes a GStreamer stream ([`crate::video`]) whose frames are copied into
//! a Bevy `Image` that the node shows. Frames are pulled without waiting,
//! once per update; while a stream plays its node is [`Animated`], so
//! updates (and drawing, through the image's `Modified` event) run at the
//! frame rate.
//!
//! The node is hidden until the first frame, so the placeholder card under it
//! shows meanwhile. A stream that fails (an error on the bus, the end of a
//! livestream, no first frame in time, a livestream that stalls) is stopped
//! and its zone told ([`super::zones::ZoneBox::fail`]): the zone moves on to
//! the next item of its playlist, or keeps the last frame or the card when
//! there is none. Never black.

use super::PlayerSet;
use super::redraw::Animated;
use super::zones::ZoneBox;
use crate::video::VideoStream;
use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use content::ItemId;

pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (start_videos, pump_videos).chain().in_set(PlayerSet::Draw),
    );
}

/// A video to play in this node, at this size in pixels.
#[derive(Component, Debug, Clone)]
pub struct VideoRequest {
    pub item: ItemId,
    pub uri: String,
    pub size: UVec2,
    /// A file starts again at its end; a livestream that ends has failed.
    pub looping: bool,
}

/// A stream playing into the node's image.
#[derive(Component, Debug)]
pub struct VideoPlayer {
    /// `None` once the stream failed (the last frame stays).
    stream: Option<VideoStream>,
    image: Handle<Image>,
    /// Frames copied into the image.
    pub frames: u64,
}

fn start_videos(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    requests: Query<(Entity, &VideoRequest), Without<VideoPlayer>>,
    parents: Query<&ChildOf>,
    mut zones: Query<&mut ZoneBox>,
) {
    for (entity, req) in &requests {
        let [r, g, b, _] = super::palette::PANEL.to_srgba().to_u8_array();
        let image = images.add(Image::new_fill(
            Extent3d {
                width: req.size.x.max(2),
                height: req.size.y.max(2),
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            &[r, g, b, 255],
            TextureFormat::Rgba8UnormSrgb,
            RenderAssetUsages::default(),
        ));
        let stream = match VideoStream::start(&req.uri, req.size.x, req.size.y, req.looping) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(
                    "video item {} ({}): {e}; the zone moves on",
                    req.item, req.uri
                );
                fail_zone(entity, req.item, &parents, &mut zones);
                None
            }
        };
        let playing = stream.is_some();
        let mut e = commands.entity(entity);
        e.insert((
            ImageNode::new(image.clone()),
            VideoPlayer {
                stream,
                image,
                frames: 0,
            },
        ));
        if playing {
            e.insert(Animated);
        }
    }
}

fn pump_videos(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut players: Query<(Entity, &VideoRequest, &mut VideoPlayer, &mut Visibility)>,
    parents: Query<&ChildOf>,
    mut zones: Query<&mut ZoneBox>,
) {
    for (entity, req, mut player, mut visibility) in &mut players {
        let Some(stream) = player.stream.as_mut() else {
            continue;
        };
        match stream.poll() {
            Ok(None) => {}
            Ok(Some(frame)) => {
                let image_handle = player.image.clone();
                if let Some(mut image) = images.get_mut(&image_handle) {
                    let size = image.size();
                    // The caps fix the size; a mismatch would be a bug, not
                    // a frame worth a panic.
                    if size == UVec2::new(frame.width, frame.height) {
                        image.data = Some(frame.rgba);
                        player.frames += 1;
                        if *visibility == Visibility::Hidden {
                            *visibility = Visibility::Inherited;
                        }
                    }
                }
            }
            Err(e) => {
                warn!(
                    "video item {} ({}) failed after {} frames: {e}; the zone moves on",
                    req.item, req.uri, player.frames
                );
                player.stream = None;
                commands.entity(entity).remove::<Animated>();
                fail_zone(entity, req.item, &parents, &mut zones);
            }
        }
    }
}

/// Tells the zone holding `entity` that its item failed.
fn fail_zone(
    entity: Entity,
    item: ItemId,
    parents: &Query<&ChildOf>,
    zones: &mut Query<&mut ZoneBox>,
) {
    for ancestor in parents.iter_ancestors(entity) {
        if let Ok(mut zone) = zones.get_mut(ancestor) {
            zone.fail(item);
            return;
        }
    }
}
