//! The player's own X11 window, fed with the rectangles that changed: how
//! frames reach an X display when the renderer is a CPU (Mesa's lavapipe).
//!
//! Through a Vulkan swap chain every frame is a whole one: a swap-chain
//! image keeps nothing from earlier frames, so a ticker frame still copies
//! all 1920x1080 pixels into it (a full-screen textured pass, on a software
//! rasterizer the largest cost of the frame) and the software WSI then sends
//! all 8 MB to the X server. Here the cameras draw into the persistent
//! offscreen image, as headless ([`super::offscreen`]), each into its own
//! rectangle; after each drawn frame [`present`] copies the rectangles the
//! active cameras drew into one mapped buffer and sends just those to the
//! window with `PutImage`. A ticker frame moves its 1920x130 strip and
//! nothing else, which is what a browser does with its damage rectangles.
//!
//! [`choose`] picks this output for `--present auto` when the render adapter
//! is a CPU and the display is X11 (`DISPLAY` set, no `WAYLAND_DISPLAY`,
//! the same order winit follows). With a GPU, or on Wayland (the kiosk's
//! cage), frames go through the swap chain ([`super::Output::Window`]).
//!
//! The window: override-redirect at the screen's size for `--fullscreen`
//! (a kiosk runs no window manager that could grant full screen), otherwise
//! a plain window of the output's size. It has the background colour, so an
//! area the X server must repaint never shows black; an `Expose` asks for a
//! full frame, `WM_DELETE_WINDOW` ends the player, and a lost X connection
//! ends it with an error (systemd restarts it). The image keeps the size the
//! window had at start: a window manager that resizes the window shows the
//! background around it.

use super::offscreen::Target;
use super::redraw::force_redraw;
use bevy::camera::NormalizedRenderTarget;
use bevy::prelude::*;
use bevy::render::camera::ExtractedCamera;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    Buffer, BufferDescriptor, BufferUsages, CommandEncoderDescriptor, Extent3d, MapMode, Origin3d,
    PollType, TexelCopyBufferInfo, TexelCopyBufferLayout, TexelCopyTextureInfo, TextureAspect,
};
use bevy::render::renderer::{RenderDevice, RenderQueue, render_system};
use bevy::render::texture::GpuImage;
use bevy::render::{Render, RenderApp, RenderSystems};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux, CreateWindowAux,
    EventMask, ImageFormat, ImageOrder, PropMode, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Why the X11 output cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum X11Error {
    #[error("cannot connect to the X display: {0}")]
    Connect(#[from] x11rb::errors::ConnectError),
    #[error("X connection failed: {0}")]
    Connection(#[from] x11rb::errors::ConnectionError),
    #[error("X request failed: {0}")]
    Reply(#[from] x11rb::errors::ReplyError),
    #[error("cannot allocate an X id: {0}")]
    Id(#[from] x11rb::errors::ReplyOrIdError),
    #[error("the X screen's visual is not 24-bit true colour in 32-bit little-endian pixels ({0})")]
    Visual(String),
}

/// How frames reach the screen (`--present`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Present {
    /// `x11` when the renderer is a CPU and the display is X11, else `swapchain`.
    #[default]
    Auto,
    /// Vulkan presentation to a winit window (X11 or Wayland).
    Swapchain,
    /// Changed rectangles copied to the player's own X11 window.
    X11,
}

/// Whether winit would open an X11 window here: `DISPLAY` set and no
/// Wayland compositor to prefer.
pub fn display_is_x11() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty())
}

/// Whether `present` means the X11 output. `adapter_is_cpu` (which makes
/// the renderer) is asked only for `auto` on an X display.
pub fn choose(present: Present, adapter_is_cpu: impl FnOnce() -> bool) -> bool {
    match present {
        Present::Auto => display_is_x11() && adapter_is_cpu(),
        Present::Swapchain => false,
        Present::X11 => true,
    }
}

/// The window and the connection it is drawn through.
pub struct X11Output {
    conn: RustConnection,
    window: u32,
    gc: u32,
    depth: u8,
    /// The window's size in pixels.
    pub size: UVec2,
    wm_delete: u32,
    /// Set by the event thread; read by the app.
    exposed: AtomicBool,
    closed: AtomicBool,
    failed: Mutex<Option<String>>,
}

impl X11Output {
    /// Opens the window: the whole screen when `fullscreen`, else `size`.
    pub fn open(
        size: (u32, u32),
        fullscreen: bool,
        background: Color,
    ) -> Result<Arc<X11Output>, X11Error> {
        let (conn, screen_num) = RustConnection::connect(None)?;
        let setup = conn.setup();
        let screen = &setup.roots[screen_num];
        let depth = screen.root_depth;
        let format = setup.pixmap_formats.iter().find(|f| f.depth == depth);
        let visual = screen
            .allowed_depths
            .iter()
            .flat_map(|d| &d.visuals)
            .find(|v| v.visual_id == screen.root_visual);
        let ok = depth == 24
            && format.is_some_and(|f| f.bits_per_pixel == 32)
            && setup.image_byte_order == ImageOrder::LSB_FIRST
            && visual.is_some_and(|v| {
                (v.red_mask, v.green_mask, v.blue_mask) == (0xff0000, 0xff00, 0xff)
            });
        if !ok {
            return Err(X11Error::Visual(format!(
                "depth {depth}, {:?} bits per pixel, byte order {:?}",
                format.map(|f| f.bits_per_pixel),
                setup.image_byte_order
            )));
        }
        let size = if fullscreen {
            UVec2::new(
                screen.width_in_pixels.into(),
                screen.height_in_pixels.into(),
            )
        } else {
            UVec2::new(size.0, size.1)
        };
        let root = screen.root;
        let window = conn.generate_id()?;
        let [r, g, b, _] = background.to_srgba().to_u8_array();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            size.x as u16,
            size.y as u16,
            0,
            WindowClass::INPUT_OUTPUT,
            screen.root_visual,
            &CreateWindowAux::new()
                .background_pixel(u32::from_be_bytes([0, r, g, b]))
                .event_mask(EventMask::EXPOSURE | EventMask::STRUCTURE_NOTIFY)
                .override_redirect(u32::from(fullscreen)),
        )?;
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            super::WINDOW_TITLE.as_bytes(),
        )?;
        let protocols = conn.intern_atom(false, b"WM_PROTOCOLS")?.reply()?.atom;
        let wm_delete = conn.intern_atom(false, b"WM_DELETE_WINDOW")?.reply()?.atom;
        conn.change_property32(
            PropMode::REPLACE,
            window,
            protocols,
            AtomEnum::ATOM,
            &[wm_delete],
        )?;
        if fullscreen {
            // No pointer on a town square's screen: an empty cursor.
            let pixmap = conn.generate_id()?;
            conn.create_pixmap(1, pixmap, window, 1, 1)?;
            let cursor = conn.generate_id()?;
            conn.create_cursor(cursor, pixmap, pixmap, 0, 0, 0, 0, 0, 0, 0, 0)?;
            conn.change_window_attributes(
                window,
                &ChangeWindowAttributesAux::new().cursor(cursor),
            )?;
            conn.free_pixmap(pixmap)?;
        }
        let gc = conn.generate_id()?;
        conn.create_gc(gc, window, &CreateGCAux::new().graphics_exposures(0))?;
        conn.map_window(window)?;
        conn.flush()?;
        Ok(Arc::new(X11Output {
            conn,
            window,
            gc,
            depth,
            size,
            wm_delete,
            exposed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            failed: Mutex::new(None),
        }))
    }

    /// Waits for the window's events on a thread of its own; `wake` wakes
    /// the frame loop after each one that matters.
    pub fn watch(self: &Arc<Self>, wake: impl Fn() + Send + 'static) -> std::io::Result<()> {
        let out = self.clone();
        std::thread::Builder::new()
            .name("x11-events".into())
            .spawn(move || {
                loop {
                    match out.conn.wait_for_event() {
                        Ok(Event::Expose(e)) if e.count == 0 => {
                            out.exposed.store(true, Ordering::Release)
                        }
                        Ok(Event::ClientMessage(m)) if m.data.as_data32()[0] == out.wm_delete => {
                            out.closed.store(true, Ordering::Release)
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            *out.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(e.to_string());
                            wake();
                            return;
                        }
                    }
                    wake();
                }
            })
            .map(drop)
    }

    /// Sends `rect`'s rows (`stride` bytes apart in `data`, BGRX) to the
    /// window, in requests the server accepts.
    fn put(&self, rect: URect, data: &[u8], stride: usize) -> Result<(), X11Error> {
        let width = rect.width() as usize;
        let row = width * 4;
        // Room for the request's header; bands of whole rows.
        let max_rows = ((self.conn.maximum_request_bytes() - 64) / row).max(1);
        let mut packed = Vec::new();
        let mut y = 0;
        while y < rect.height() as usize {
            let rows = max_rows.min(rect.height() as usize - y);
            let band = &data[y * stride..(y + rows - 1) * stride + row];
            let bytes = if stride == row {
                band
            } else {
                // The copy's rows are padded to 256 bytes; X wants them packed.
                packed.clear();
                for r in 0..rows {
                    packed.extend_from_slice(&band[r * stride..r * stride + row]);
                }
                &packed[..]
            };
            self.conn.put_image(
                ImageFormat::Z_PIXMAP,
                self.window,
                self.gc,
                width as u16,
                rows as u16,
                rect.min.x as i16,
                (rect.min.y as usize + y) as i16,
                0,
                self.depth,
                bytes,
            )?;
            y += rows;
        }
        Ok(())
    }
}

impl X11Output {
    /// Switches the monitor off or on through the X server's DPMS extension
    /// (night mode, `--screen-power dpms`): DPMS is enabled, then forced to
    /// `Off` or `On`. An X server without the extension (Xvfb) is an error
    /// naming that, so the caller can fall back to blanking.
    pub fn set_dpms(&self, on: bool) -> Result<(), String> {
        use x11rb::protocol::dpms::{self, ConnectionExt as _, DPMSMode};
        let present = self
            .conn
            .extension_information(dpms::X11_EXTENSION_NAME)
            .map_err(|e| e.to_string())?
            .is_some();
        if !present {
            return Err("the X server has no DPMS extension".into());
        }
        let check = |r: Result<x11rb::cookie::VoidCookie<'_, RustConnection>, _>| {
            r.map_err(|e: x11rb::errors::ConnectionError| e.to_string())?
                .check()
                .map_err(|e| e.to_string())
        };
        check(self.conn.dpms_enable())?;
        check(
            self.conn
                .dpms_force_level(if on { DPMSMode::ON } else { DPMSMode::OFF }),
        )
    }
}

/// The window, for the app's systems.
#[derive(Resource, Clone)]
pub struct X11Window(pub Arc<X11Output>);

/// The window and the image it shows, for the render world.
#[derive(Resource)]
struct Presenter {
    out: Arc<X11Output>,
    image: AssetId<Image>,
    /// The mapped-for-reading copy of the changed rectangles, grown as needed.
    staging: Option<Buffer>,
}

pub fn plugin(app: &mut App, out: Arc<X11Output>) {
    let image = app
        .world()
        .resource::<Target>()
        .image
        .as_ref()
        .expect("the X11 output draws into the offscreen image")
        .id();
    app.insert_resource(X11Window(out.clone()))
        .add_systems(First, window_events);
    if let Some(render) = app.get_sub_app_mut(RenderApp) {
        render
            .insert_resource(Presenter {
                out,
                image,
                staging: None,
            })
            .add_systems(
                Render,
                present.in_set(RenderSystems::Render).after(render_system),
            );
    }
}

/// What the event thread saw: a full frame after an `Expose`, the end of
/// the player when the window was closed or the connection lost.
fn window_events(world: &mut World) {
    let out = world.resource::<X11Window>().0.clone();
    if out.exposed.swap(false, Ordering::AcqRel) {
        force_redraw(world);
    }
    if out.closed.load(Ordering::Acquire) {
        info!("the window was closed");
        world.write_message(AppExit::Success);
    }
    let failed = out.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(e) = failed {
        error!("lost the X display: {e}");
        world.write_message(AppExit::error());
    }
}

/// The rectangles the cameras drew into the image this frame: a camera
/// with a viewport drew (and copied) only that; one without drew all.
fn damage(cameras: impl Iterator<Item = Option<URect>>, size: UVec2) -> Vec<URect> {
    let full = URect::from_corners(UVec2::ZERO, size);
    let mut rects: Vec<URect> = Vec::new();
    for r in cameras {
        let r = r.unwrap_or(full).intersect(full);
        if r.is_empty() {
            continue;
        }
        if r == full {
            return vec![full];
        }
        if !rects
            .iter()
            .any(|o| o.contains(r.min) && o.contains(r.max - UVec2::ONE))
        {
            rects.push(r);
        }
    }
    rects
}

/// The staging buffer's size: a 1080p ticker strip (1920x130) goes in one
/// copy; a full frame in a few. A full-frame buffer would keep 8 MB resident
/// for the rare full redraws.
const STAGING_BYTES: u64 = 2 << 20;

/// A band of whole rows of a changed rectangle, and where its rows start in
/// the staging buffer (256-byte aligned: the copy's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Band {
    rect: URect,
    offset: u64,
}

impl Band {
    fn stride(&self) -> u64 {
        stride(self.rect.width())
    }

    fn len(&self) -> u64 {
        self.stride() * u64::from(self.rect.height())
    }
}

fn stride(width: u32) -> u64 {
    (u64::from(width) * 4).next_multiple_of(256)
}

/// Splits the rectangles into bands and the bands into batches that each
/// fit `capacity` bytes of staging (a band holds at least one row).
fn batches(rects: &[URect], capacity: u64) -> Vec<Vec<Band>> {
    let mut out: Vec<Vec<Band>> = vec![Vec::new()];
    let mut used = 0;
    for r in rects {
        let stride = stride(r.width());
        let mut y = r.min.y;
        while y < r.max.y {
            let mut room = capacity.saturating_sub(used) / stride;
            if room == 0 && used > 0 {
                out.push(Vec::new());
                used = 0;
                room = capacity / stride;
            }
            let rows = room.max(1).min(u64::from(r.max.y - y)) as u32;
            let band = Band {
                rect: URect::new(r.min.x, y, r.max.x, y + rows),
                offset: used,
            };
            used += band.len();
            out.last_mut().expect("never empty").push(band);
            y += rows;
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// After the frame's commands: copies what changed into the staging buffer
/// (a batch at a time), waits for it and sends it to the window.
fn present(
    mut presenter: ResMut<Presenter>,
    images: Res<RenderAssets<GpuImage>>,
    cameras: Query<&ExtractedCamera>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
) {
    let Some(image) = images.get(presenter.image) else {
        return;
    };
    let size = UVec2::new(image.texture.width(), image.texture.height());
    let ours = |t: &Option<NormalizedRenderTarget>| matches!(t, Some(NormalizedRenderTarget::Image(i)) if i.handle.id() == presenter.image);
    let rects = damage(
        cameras.iter().filter(|c| ours(&c.target)).map(|c| {
            c.viewport.as_ref().map(|v| {
                URect::from_corners(v.physical_position, v.physical_position + v.physical_size)
            })
        }),
        size,
    );
    // A single row wider than the usual buffer gets a buffer of its own size.
    let capacity = rects
        .iter()
        .map(|r| stride(r.width()))
        .fold(STAGING_BYTES, u64::max);
    for batch in batches(&rects, capacity) {
        if let Err(e) = send(
            &mut presenter,
            &image.texture,
            &batch,
            capacity,
            &device,
            &queue,
        ) {
            // The event thread sees a lost connection and ends the player.
            warn!("cannot send the frame to the X display: {e}");
            return;
        }
    }
}

/// One batch: copy, map, wait, `PutImage`, unmap.
fn send(
    presenter: &mut Presenter,
    texture: &bevy::render::render_resource::Texture,
    batch: &[Band],
    capacity: u64,
    device: &RenderDevice,
    queue: &RenderQueue,
) -> Result<(), X11Error> {
    if presenter
        .staging
        .as_ref()
        .is_none_or(|b| b.size() < capacity)
    {
        presenter.staging = Some(device.create_buffer(&BufferDescriptor {
            label: Some("x11_output_staging"),
            size: capacity,
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
    }
    let staging = presenter.staging.clone().expect("made above");
    let mut encoder = device.create_command_encoder(&CommandEncoderDescriptor::default());
    for band in batch {
        encoder.copy_texture_to_buffer(
            TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: Origin3d {
                    x: band.rect.min.x,
                    y: band.rect.min.y,
                    z: 0,
                },
                aspect: TextureAspect::All,
            },
            TexelCopyBufferInfo {
                buffer: &staging,
                layout: TexelCopyBufferLayout {
                    offset: band.offset,
                    bytes_per_row: Some(band.stride() as u32),
                    rows_per_image: None,
                },
            },
            Extent3d {
                width: band.rect.width(),
                height: band.rect.height(),
                depth_or_array_layers: 1,
            },
        );
    }
    queue.submit([encoder.finish()]);
    let used = batch.last().map_or(0, |b| b.offset + b.len());
    let slice = staging.slice(..used);
    let mapped = Arc::new(AtomicBool::new(false));
    let done = mapped.clone();
    slice.map_async(MapMode::Read, move |r| {
        done.store(r.is_ok(), Ordering::Release)
    });
    if let Err(e) = device.poll(PollType::wait_indefinitely()) {
        error!("waiting for the frame's copy failed: {e}");
    }
    if !mapped.load(Ordering::Acquire) {
        error!("the frame's copy could not be mapped; it is not shown");
        presenter.staging = None;
        return Ok(());
    }
    let result = {
        let data = slice.get_mapped_range();
        batch.iter().try_for_each(|band| {
            let at = band.offset as usize;
            presenter.out.put(
                band.rect,
                &data[at..at + band.len() as usize],
                band.stride() as usize,
            )
        })
    };
    staging.unmap();
    result?;
    presenter.out.conn.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_the_cameras_rectangles_or_the_whole_image() {
        let size = UVec2::new(1920, 1080);
        let ticker = URect::new(0, 950, 1920, 1080);
        let clock = URect::new(1500, 0, 1920, 120);
        assert_eq!(damage([].into_iter(), size), vec![]);
        assert_eq!(
            damage([Some(ticker), Some(clock), Some(ticker)].into_iter(), size),
            vec![ticker, clock]
        );
        // A camera without a viewport drew everything.
        let full = URect::new(0, 0, 1920, 1080);
        assert_eq!(damage([Some(ticker), None].into_iter(), size), vec![full]);
        // Clamped to the image; nothing left of a rectangle outside it.
        assert_eq!(
            damage([Some(URect::new(1800, 1000, 2000, 1200))].into_iter(), size),
            vec![URect::new(1800, 1000, 1920, 1080)]
        );
        assert_eq!(
            damage([Some(URect::new(2000, 0, 2100, 10))].into_iter(), size),
            vec![]
        );
    }

    #[test]
    fn rectangles_are_copied_in_batches_that_fit_the_staging_buffer() {
        let ticker = URect::new(0, 950, 1920, 1080);
        // 1920 px rows are 7680 bytes: 130 rows fit 2 MiB in one batch.
        let b = batches(&[ticker], STAGING_BYTES);
        assert_eq!(
            b,
            vec![vec![Band {
                rect: ticker,
                offset: 0
            }]]
        );
        // A full frame: 273 rows a batch, every row once, in order.
        let full = URect::new(0, 0, 1920, 1080);
        let b = batches(&[full], STAGING_BYTES);
        assert_eq!(b.len(), 4);
        let rows: Vec<u32> = b
            .iter()
            .flatten()
            .flat_map(|x| x.rect.min.y..x.rect.max.y)
            .collect();
        assert_eq!(rows, (0..1080).collect::<Vec<_>>());
        assert!(
            b.iter()
                .all(|batch| batch.iter().map(Band::len).sum::<u64>() <= STAGING_BYTES)
        );
        // An odd width: rows padded to 256 bytes, offsets aligned.
        let clock = URect::new(1500, 0, 1917, 120);
        let b = batches(&[ticker, clock], STAGING_BYTES);
        let offsets: Vec<u64> = b.iter().flatten().map(|x| x.offset).collect();
        assert!(offsets.iter().all(|o| o % 256 == 0), "{offsets:?}");
        assert_eq!(
            b.iter().flatten().map(|x| x.rect.height()).sum::<u32>(),
            250
        );
        // A row wider than the buffer still goes, one row a band.
        assert_eq!(batches(&[URect::new(0, 0, 64, 3)], 100).len(), 3);
    }

    #[test]
    fn auto_takes_x11_only_for_a_cpu_renderer() {
        let never = || -> bool { panic!("the adapter was not needed") };
        assert!(!choose(Present::Swapchain, never));
        assert!(choose(Present::X11, never));
        assert!(!choose(Present::Auto, || false));
    }
}
