//! The cameras and their render target: an offscreen image (headless, Mesa
//! lavapipe works), which screenshots read back and the X11 output shows
//! ([`super::x11_output`]), or the primary window ([`Output::Window`]).
//!
//! Three tiers of cameras share the target and its intermediate ("main")
//! texture, which persists from frame to frame:
//!
//! 1. the **base** camera (order 0, whole output) clears to the background
//!    and draws the zone layer: the zones that overlap others;
//! 2. one **zone camera** per zone no other zone overlaps ([`ZoneCamera`]),
//!    its viewport the zone's rectangle: it loads what the main texture holds
//!    and draws only its zone, and its copy to the output is cut to that
//!    rectangle (Bevy's upscaling pass scissors to the viewport);
//! 3. the **overlay** camera (last, whole output, no clear) draws every
//!    other root node: alerts, banners, notices, the pairing screen.
//!
//! [`super::redraw`] switches each camera on only when its nodes changed, so
//! a ticker frame rasterizes the ticker's strip, not 1920x1080 pixels. A
//! window's swap-chain images keep nothing between frames (Vulkan leaves
//! their contents undefined, and wgpu clears a newly acquired one before a
//! pass loads it), so in a window the overlay camera runs in every drawn
//! frame and is the only one to write the output: with nothing of its own to
//! draw it copies the whole main texture to the swap chain (one textured
//! pass; the static pixels come from the persistent main texture). An
//! offscreen image is one persistent texture: there each camera copies only
//! its own rectangle, and the X11 output ([`super::x11_output`]) sends just
//! those rectangles to its window.
//!
//! The layout is computed in the display's resolution from the manifest
//! ([`Settings`]); [`fit_output`] scales it uniformly to the real output
//! (`UiScale`) and centres it, the bars left over in the background colour.

use super::{Output, Settings, palette};
use bevy::asset::RenderAssetUsages;
use bevy::camera::{
    CameraOutputMode, CameraUpdateSystems, ClearColorConfig, RenderTarget, Viewport,
};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::view::Msaa;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::ui::UiSystems;
use bevy::window::PrimaryWindow;

/// What the cameras draw into.
#[derive(Resource, Debug, Clone)]
pub struct Target {
    /// The offscreen image; `None` when the cameras draw into the window.
    pub image: Option<Handle<Image>>,
    /// The base camera (clears; draws the zone layer).
    pub camera: Entity,
    /// The overlay camera (draws last; in a window, copies the whole frame).
    pub overlay: Entity,
    /// The offscreen image's size (a window's size is read from the window).
    pub size: UVec2,
}

impl Target {
    /// The render target for another camera on the same output.
    pub fn render_target(&self) -> RenderTarget {
        match &self.image {
            Some(image) => RenderTarget::Image(image.clone().into()),
            None => RenderTarget::default(),
        }
    }

    /// Whether the output is a window (whose swap chain keeps nothing).
    pub fn is_window(&self) -> bool {
        self.image.is_none()
    }
}

/// A camera that draws one zone into its rectangle of the output.
#[derive(Component, Debug, Clone, Copy)]
pub struct ZoneCamera {
    /// The zone's rectangle in layout units (the manifest's resolution).
    pub rect: Rect,
}

/// A root node drawn by the overlay camera (set by [`route_overlays`]).
#[derive(Component, Debug, Clone, Copy)]
pub struct Overlay;

/// How the layout sits in the output: uniformly scaled, centred.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Output pixels per layout unit.
    pub scale: f32,
    /// The layout's top-left corner in output pixels.
    pub offset: Vec2,
    /// The output's size in pixels.
    pub output: UVec2,
}

impl Fit {
    /// Scale and offset that fit a `layout` into an `output`, letterboxed.
    pub fn new(layout: Vec2, output: UVec2) -> Fit {
        let out = output.as_vec2();
        let scale = (out.x / layout.x.max(1.0)).min(out.y / layout.y.max(1.0));
        let offset = ((out - layout * scale) / 2.0).floor().max(Vec2::ZERO);
        Fit {
            scale,
            offset,
            output,
        }
    }

    /// A rectangle in layout units as output pixels (edges rounded, so
    /// neighbouring zones leave no gap), clamped to the output.
    pub fn physical(&self, r: Rect) -> URect {
        let max = self.output.as_vec2();
        let a = (self.offset + r.min * self.scale)
            .round()
            .clamp(Vec2::ZERO, max);
        let b = (self.offset + r.max * self.scale)
            .round()
            .clamp(Vec2::ZERO, max);
        URect::from_corners(a.as_uvec2(), b.as_uvec2())
    }
}

/// A camera on the player's output (no multisampling: flat UI needs none,
/// and it would cost a full-screen resolve). `write`: it copies the main
/// texture to the output itself; with no clear that copy loads what is
/// there, so a zone camera replaces its rectangle and nothing else. In a
/// window only the overlay camera writes (the whole frame, see the module
/// comment); the others would only add passes over the swap chain.
fn camera(
    order: isize,
    clear: ClearColorConfig,
    output: Option<ClearColorConfig>,
) -> (Camera2d, Camera, Msaa) {
    (
        Camera2d,
        Camera {
            order,
            clear_color: clear,
            output_mode: match output {
                Some(clear_color) => CameraOutputMode::Write {
                    blend_state: None,
                    clear_color,
                },
                None => CameraOutputMode::Skip,
            },
            ..default()
        },
        Msaa::Off,
    )
}

/// The overlay camera's order: after every zone camera.
const OVERLAY_ORDER: isize = 10_000;

/// A new zone camera: inactive until its zone has something to draw.
pub fn zone_camera(target: &Target, order: isize, rect: Rect) -> impl Bundle {
    let output = (!target.is_window()).then_some(ClearColorConfig::None);
    let mut bundle = camera(order, ClearColorConfig::None, output);
    bundle.1.is_active = false;
    (bundle, target.render_target(), ZoneCamera { rect })
}

pub fn plugin(app: &mut App) {
    let settings = app.world().resource::<Settings>().clone();
    let output = app.world().get_resource::<Output>().copied();
    let size = UVec2::new(settings.output_width, settings.output_height);
    // The X11 output sends the image's bytes to X as they are: BGRX.
    let format = if output == Some(Output::X11) {
        TextureFormat::Bgra8UnormSrgb
    } else {
        TextureFormat::Rgba8UnormSrgb
    };
    let image = (output != Some(Output::Window)).then(|| {
        // No pixels of its own: the base camera's clear fills it in the
        // first frame, and a filled one would cost 8 MB at 1080p in the main
        // world plus as much again for its upload, kept in the renderer's
        // memory block.
        let mut image = Image::new_uninit(
            Extent3d {
                width: size.x,
                height: size.y,
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            format,
            RenderAssetUsages::default(),
        );
        image.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT
            | TextureUsages::COPY_SRC
            | TextureUsages::TEXTURE_BINDING;
        app.world_mut().resource_mut::<Assets<Image>>().add(image)
    });
    let mut target = Target {
        image,
        camera: Entity::PLACEHOLDER,
        overlay: Entity::PLACEHOLDER,
        size,
    };
    let world = app.world_mut();
    target.camera = world
        .spawn((
            camera(
                0,
                ClearColorConfig::Custom(palette::BACKGROUND),
                (!target.is_window()).then_some(ClearColorConfig::None),
            ),
            target.render_target(),
            IsDefaultUiCamera,
        ))
        .id();
    // The background over the whole output, under everything the base
    // camera draws: its UI pass then always runs, and being the first pass
    // on the main texture it clears it (see `super::no_depth`).
    world.spawn((
        Node {
            position_type: PositionType::Absolute,
            width: percent(100),
            height: percent(100),
            ..default()
        },
        BackgroundColor(palette::BACKGROUND),
        GlobalZIndex(i32::MIN),
        UiTargetCamera(target.camera),
    ));
    target.overlay = world
        .spawn((
            camera(
                OVERLAY_ORDER,
                ClearColorConfig::None,
                // A window's new swap-chain image is cleared as part of the
                // copy (cheaper than wgpu's own clear before a load).
                Some(if target.is_window() {
                    ClearColorConfig::Custom(palette::BACKGROUND)
                } else {
                    ClearColorConfig::None
                }),
            ),
            target.render_target(),
        ))
        .id();
    let layout = Vec2::new(settings.width as f32, settings.height as f32);
    app.insert_resource(Fit::new(layout, size))
        .insert_resource(target)
        .init_resource::<Captured>()
        .add_systems(
            PostUpdate,
            (
                fit_output.before(CameraUpdateSystems),
                route_overlays.before(UiSystems::Prepare),
            ),
        );
}

/// Keeps the layout fitted to the output: `UiScale`, the zone layer's box,
/// the zone cameras' viewports. Runs every update (a few comparisons);
/// changes only what differs, so an unchanged output causes no redraw.
#[allow(clippy::type_complexity)]
fn fit_output(
    settings: Res<Settings>,
    target: Res<Target>,
    windows: Query<&Window, With<PrimaryWindow>>,
    mut fit: ResMut<Fit>,
    mut ui_scale: ResMut<UiScale>,
    mut layers: Query<&mut Node, With<super::zones::ZoneLayer>>,
    mut cameras: Query<(&mut Camera, &ZoneCamera)>,
) {
    let output = match &target.image {
        Some(_) => target.size,
        None => match windows.single() {
            Ok(w) => w.physical_size(),
            Err(_) => target.size,
        },
    };
    if output.x == 0 || output.y == 0 {
        // A minimised window: nothing is drawn, keep the last fit.
        return;
    }
    let layout = Vec2::new(settings.width as f32, settings.height as f32);
    let want = Fit::new(layout, output);
    if *fit != want {
        *fit = want;
    }
    // UI units are output pixels divided by the scale (the window's own
    // scale factor is forced to 1).
    if ui_scale.0 != fit.scale {
        ui_scale.0 = fit.scale;
    }
    for mut node in &mut layers {
        let (left, top) = (px(fit.offset.x / fit.scale), px(fit.offset.y / fit.scale));
        let (width, height) = (px(layout.x), px(layout.y));
        if node.left != left || node.top != top || node.width != width || node.height != height {
            node.position_type = PositionType::Absolute;
            node.left = left;
            node.top = top;
            node.width = width;
            node.height = height;
        }
    }
    for (mut camera, zone) in &mut cameras {
        let r = fit.physical(zone.rect);
        let viewport = Viewport {
            physical_position: r.min,
            physical_size: r.size().max(UVec2::ONE),
            ..default()
        };
        let same = camera.viewport.as_ref().is_some_and(|v| {
            v.physical_position == viewport.physical_position
                && v.physical_size == viewport.physical_size
        });
        if !same {
            camera.viewport = Some(viewport);
        }
    }
}

/// Sends every root node that is neither the zone layer nor a zone with its
/// own camera (alerts, banners, notices, the pairing screen) to the overlay
/// camera, in the update it appears: it must be drawn over the zone cameras.
#[allow(clippy::type_complexity)]
fn route_overlays(
    mut commands: Commands,
    target: Res<Target>,
    roots: Query<
        Entity,
        (
            With<Node>,
            Without<ChildOf>,
            Without<UiTargetCamera>,
            Without<super::zones::ZoneLayer>,
        ),
    >,
) {
    for e in &roots {
        commands
            .entity(e)
            .insert((UiTargetCamera(target.overlay), Overlay));
    }
}

/// The last screenshot read back.
#[derive(Resource, Debug, Default)]
pub struct Captured(pub Option<Image>);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_is_scaled_uniformly_and_centred() {
        // Same aspect: scaled, no bars.
        let f = Fit::new(Vec2::new(1920.0, 1080.0), UVec2::new(1280, 720));
        assert!((f.scale - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(f.offset, Vec2::ZERO);
        // A portrait layout on a landscape output: bars left and right.
        let f = Fit::new(Vec2::new(1080.0, 1920.0), UVec2::new(1920, 1080));
        assert!((f.scale - 0.5625).abs() < 1e-6);
        assert_eq!(f.offset, Vec2::new(656.0, 0.0));
        let whole = f.physical(Rect::new(0.0, 0.0, 1080.0, 1920.0));
        assert_eq!(whole, URect::new(656, 0, 1264, 1080));
        // Neighbouring zones share their edge: no gap, no overlap.
        let a = f.physical(Rect::new(0.0, 0.0, 1080.0, 1003.0));
        let b = f.physical(Rect::new(0.0, 1003.0, 1080.0, 1920.0));
        assert_eq!(a.max.y, b.min.y);
    }
}
