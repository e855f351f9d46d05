//! The player's cameras draw UI only: no 2D render phases, so no depth
//! texture.
//!
//! Bevy gives every active `Camera2d` view a 2D phase and, for it, a
//! full-size depth texture (`Depth32Float`: 8 MB at 1080p) from the texture
//! cache, and runs the 2D transparent pass, which clears that depth texture
//! and begins a pass on the main texture even with nothing in it. The
//! player draws no sprites or meshes, only UI (its own pass, without
//! depth). On a software rasterizer the clear was a pass over 8 MB in every
//! ticker frame, and since the cache frees the texture after three updates
//! without a drawing camera, each burst of drawing after a pause allocated
//! it anew, and the renderer's memory grew by a block at the first partial
//! redraw (BENCHMARKS.md). With the phases removed after extraction, the 2D
//! passes skip these views and no depth texture is asked for.
//!
//! What the transparent pass also did, clearing the base camera's main
//! texture to the background at the start of a full frame, is done by the
//! UI pass (the first pass on a view target clears it), and so that the
//! base camera's UI pass always has something to draw,
//! [`super::offscreen`] gives it a background node over the whole output.

use bevy::core_pipeline::core_2d::{
    AlphaMask2d, Opaque2d, Transparent2d, extract_core_2d_camera_phases,
};
use bevy::prelude::*;
use bevy::render::render_phase::{ViewBinnedRenderPhases, ViewSortedRenderPhases};
use bevy::render::{ExtractSchedule, RenderApp};

pub fn plugin(app: &mut App) {
    if let Some(render) = app.get_sub_app_mut(RenderApp) {
        render.add_systems(
            ExtractSchedule,
            drop_2d_phases.after(extract_core_2d_camera_phases),
        );
    }
}

fn drop_2d_phases(
    mut transparent: ResMut<ViewSortedRenderPhases<Transparent2d>>,
    mut opaque: ResMut<ViewBinnedRenderPhases<Opaque2d>>,
    mut alpha_mask: ResMut<ViewBinnedRenderPhases<AlphaMask2d>>,
) {
    transparent.0.clear();
    opaque.0.clear();
    alpha_mask.0.clear();
}
