//! The camera and its render target: an offscreen image of the output size
//! (headless, Mesa lavapipe works), which screenshots read back.

use super::{Settings, palette};
use bevy::asset::RenderAssetUsages;
use bevy::camera::{ClearColorConfig, RenderTarget};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::view::Msaa;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

/// The image the camera draws into.
#[derive(Resource, Debug, Clone)]
pub struct Target {
    pub image: Handle<Image>,
    pub camera: Entity,
}

/// The last screenshot read back.
#[derive(Resource, Debug, Default)]
pub struct Captured(pub Option<Image>);

pub fn plugin(app: &mut App) {
    let settings = app.world().resource::<Settings>().clone();
    let mut image = Image::new_fill(
        Extent3d {
            width: settings.width,
            height: settings.height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        &[0, 0, 0, 255],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::default(),
    );
    image.texture_descriptor.usage |=
        TextureUsages::RENDER_ATTACHMENT | TextureUsages::COPY_SRC | TextureUsages::TEXTURE_BINDING;
    let image = app.world_mut().resource_mut::<Assets<Image>>().add(image);
    let camera = app
        .world_mut()
        .spawn((
            Camera2d,
            Camera {
                clear_color: ClearColorConfig::Custom(palette::BACKGROUND),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
            // Flat UI needs no multisampling; it would cost a full-screen resolve.
            Msaa::Off,
            IsDefaultUiCamera,
        ))
        .id();
    app.insert_resource(Target { image, camera })
        .init_resource::<Captured>();
}

/// Asks for a screenshot of the next rendered frame; it lands in [`Captured`].
pub fn request_screenshot(world: &mut World) {
    let image = world.resource::<Target>().image.clone();
    world.resource_mut::<Captured>().0 = None;
    world.spawn(Screenshot::image(image)).observe(
        |shot: On<ScreenshotCaptured>, mut captured: ResMut<Captured>| {
            captured.0 = Some(shot.image.clone());
        },
    );
}
