//! The camera and its render target: an offscreen image of the output size
//! (headless, Mesa lavapipe works), which screenshots read back, or the
//! primary window ([`Output::Window`]).

use super::{Output, Settings, palette};
use bevy::asset::RenderAssetUsages;
use bevy::camera::{ClearColorConfig, RenderTarget};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::view::Msaa;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

/// What the camera draws into.
#[derive(Resource, Debug, Clone)]
pub struct Target {
    /// The offscreen image; `None` when the camera draws into the window.
    pub image: Option<Handle<Image>>,
    pub camera: Entity,
}

/// The last screenshot read back.
#[derive(Resource, Debug, Default)]
pub struct Captured(pub Option<Image>);

pub fn plugin(app: &mut App) {
    let settings = app.world().resource::<Settings>().clone();
    let camera = (
        Camera2d,
        Camera {
            clear_color: ClearColorConfig::Custom(palette::BACKGROUND),
            ..default()
        },
        // Flat UI needs no multisampling; it would cost a full-screen resolve.
        Msaa::Off,
        IsDefaultUiCamera,
    );
    if app.world().get_resource::<Output>() == Some(&Output::Window) {
        // The default render target is the primary window.
        let camera = app.world_mut().spawn(camera).id();
        app.insert_resource(Target {
            image: None,
            camera,
        })
        .init_resource::<Captured>();
        return;
    }
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
        .spawn((camera, RenderTarget::Image(image.clone().into())))
        .id();
    app.insert_resource(Target {
        image: Some(image),
        camera,
    })
    .init_resource::<Captured>();
}

/// Asks for a screenshot of the next rendered frame; it lands in [`Captured`].
pub fn request_screenshot(world: &mut World) {
    let shot = match world.resource::<Target>().image.clone() {
        Some(image) => Screenshot::image(image),
        None => Screenshot::primary_window(),
    };
    world.resource_mut::<Captured>().0 = None;
    // The frame must be drawn even if nothing changed.
    super::redraw::force_redraw(world);
    world.spawn(shot).observe(
        |shot: On<ScreenshotCaptured>, mut captured: ResMut<Captured>| {
            captured.0 = Some(shot.image.clone());
        },
    );
}
