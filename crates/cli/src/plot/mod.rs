//! PNG figures for the `scorematch` command: model density against data, the score field,
//! samples against data, loss curves, plain scatter plots, and for more than two columns
//! corner plots and image grids; bar charts and log-log lines for `scorematch reproduce`.
//!
//! Inputs are plain numbers ([`Extent`], [`Grid2`], `(x, y)` pairs, [`Arrow`]s) so this module
//! knows nothing about models or tensors and can be tested on its own.
//!
//! Design decisions:
//! - Text is drawn with DejaVu Sans, embedded in the binary and registered with plotters'
//!   `ab_glyph` backend on first use ([`font`]), so plotting needs no system font library.
//! - Every figure is drawn into a temporary `.png` next to the target and renamed over it
//!   ([`output`]), so a failed or interrupted plot never leaves a half-written file behind.
//! - Degenerate input never panics: non-finite values are skipped (or read as zero density),
//!   empty inputs give empty panels, and a zero-width extent is widened.
//!   Invalid shapes (a grid whose value count is not `nx·ny`) are reported as errors.

mod bars;
mod colormap;
mod corner;
mod curves;
mod density;
mod font;
#[cfg(test)]
mod gallery;
mod geometry;
mod images;
mod loglog;
mod output;
mod panel;
mod quiver;
mod scatter;
#[cfg(test)]
mod test_util;

pub use bars::bars;
pub use corner::corner;
pub use curves::{curves, loss_curves};
pub use density::density_vs_data;
pub use geometry::{Arrow, Extent, Grid2, points_from_rows};
pub use images::image_grids;
pub use loglog::log_log;
pub use quiver::score_field;
pub use scatter::{samples_vs_data, scatter};

/// Size in pixels of two-panel figures.
pub const WIDE_SIZE: (u32, u32) = (1200, 600);
/// Size in pixels of single-panel figures.
pub const SINGLE_SIZE: (u32, u32) = (800, 600);
