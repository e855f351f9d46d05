//! Keeps the output's main textures alive while nothing is drawn.
//!
//! The cameras share one intermediate ("main") texture pair from Bevy's
//! texture cache, and the player's partial redraws rely on it persisting
//! ([`super::offscreen`]). The cache frees a texture that three updates in a
//! row did not ask for, and a reactive player often runs many updates without
//! a drawing camera. The next redraw then got a new pair, while stale view
//! targets on the inactive cameras still held the old ones: in the static
//! scene the player grew by 16 MB at the clock's first minute redraws
//! (BENCHMARKS.md). In updates where no camera is active this asks the cache
//! for the pair the last drawing update used, so the same pair stays.

use bevy::prelude::*;
use bevy::render::camera::ExtractedCamera;
use bevy::render::render_resource::{TextureDescriptor, TextureFormat};
use bevy::render::renderer::RenderDevice;
use bevy::render::texture::TextureCache;
use bevy::render::view::{ViewTarget, prepare_view_targets};
use bevy::render::{Render, RenderApp, RenderSystems};

/// The main textures' descriptors as the last drawing update used them (every
/// camera draws into the one output, so they share one pair).
#[derive(Resource, Default)]
struct Kept(Option<[TextureDescriptor<'static>; 2]>);

pub fn plugin(app: &mut App) {
    if let Some(render) = app.get_sub_app_mut(RenderApp) {
        render.init_resource::<Kept>().add_systems(
            Render,
            keep.in_set(RenderSystems::PrepareViews)
                .after(prepare_view_targets),
        );
    }
}

/// The descriptor Bevy's `prepare_view_targets` asks the cache for, per label.
fn descriptors(t: &bevy::render::render_resource::Texture) -> [TextureDescriptor<'static>; 2] {
    let d = TextureDescriptor {
        label: None,
        size: t.size(),
        mip_level_count: t.mip_level_count(),
        sample_count: t.sample_count(),
        dimension: t.dimension(),
        format: t.format(),
        usage: t.usage(),
        view_formats: match t.format() {
            TextureFormat::Bgra8Unorm => &[TextureFormat::Bgra8UnormSrgb],
            TextureFormat::Rgba8Unorm => &[TextureFormat::Rgba8UnormSrgb],
            _ => &[],
        },
    };
    [
        TextureDescriptor {
            label: Some("main_texture_a"),
            ..d.clone()
        },
        TextureDescriptor {
            label: Some("main_texture_b"),
            ..d
        },
    ]
}

fn keep(
    drawing: Query<&ViewTarget, With<ExtractedCamera>>,
    mut kept: ResMut<Kept>,
    mut cache: ResMut<TextureCache>,
    device: Res<RenderDevice>,
) {
    match drawing.iter().next() {
        Some(view) => kept.0 = Some(descriptors(view.main_texture())),
        // Taken from the cache for this update: not aged, not freed.
        None => {
            for d in kept.0.iter().flatten() {
                cache.get(&device, d.clone());
            }
        }
    }
}
