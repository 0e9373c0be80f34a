//! The score field as a quiver plot, optionally over a faded density.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::SINGLE_SIZE;
use super::colormap::lighten;
use super::density::draw_cells;
use super::geometry::{Arrow, Extent, Grid2};
use super::output::{Root, write_png};
use super::panel::{XyChart, below_title, xy_chart};

/// Colour of the arrows.
const ARROW_COLOUR: RGBColor = RGBColor(20, 20, 20);

/// Writes an 800×600 PNG of the vectors `arrows` (e.g. the score ∇ₓ log p on a grid) as
/// arrows centred on their points, over `background` (e.g. the density) drawn faded.
///
/// Arrows are scaled together so that a typical long arrow (the 90th percentile of lengths)
/// spans 90% of the spacing between neighbouring points; longer ones are capped at the
/// spacing so they never cross a neighbour. Directions follow the axes' scales. Arrows with
/// a non-finite part (or a length that overflows), or outside `extent`, are skipped; an arrow
/// too short to see is drawn as a dot.
pub fn score_field(
    path: &Path,
    extent: &Extent,
    arrows: &[Arrow],
    background: Option<&Grid2>,
    title: &str,
) -> Result<()> {
    let extent = extent.checked()?;
    if let Some(grid) = background {
        grid.check()?;
    }
    let shown: Vec<Arrow> = arrows
        .iter()
        .copied()
        .filter(|a| {
            [a.x, a.y, a.sx, a.sy].iter().all(|v| v.is_finite()) && extent.contains((a.x, a.y))
        })
        .collect();
    write_png(path, SINGLE_SIZE, |root| {
        let area = below_title(root, title)?;
        let mut chart = xy_chart(&area, &extent, "score field ∇ₓ log p", background.is_none())?;
        if let Some(g) = background {
            draw_cells(&mut chart, &g.extent(), g.nx, g.ny, |i, j| g.drawn_value(i, j), &|c| {
                lighten(c, 0.55)
            })?;
        }
        draw_arrows(&chart, &extent, &shown)
    })
}

/// Draws `arrows` (finite, inside `extent`) on `chart`, scaled together in pixel space.
fn draw_arrows(chart: &XyChart<'_, '_>, extent: &Extent, arrows: &[Arrow]) -> Result<()> {
    let to_px = |x: f64, y: f64| chart.backend_coord(&(x, y));
    let (x0, y1) = to_px(extent.x_min, extent.y_max);
    let (x1, y0) = to_px(extent.x_max, extent.y_min);
    let (w_px, h_px) = (f64::from(x1 - x0), f64::from(y0 - y1));
    let kx = w_px / (extent.x_max - extent.x_min);
    let ky = h_px / (extent.y_max - extent.y_min);
    let cell = spacing(arrows, w_px, h_px);
    // each arrow's anchor and vector in pixels (y grows downwards)
    let px: Vec<((f64, f64), (f64, f64))> = arrows
        .iter()
        .map(|a| {
            let (x, y) = to_px(a.x, a.y);
            ((f64::from(x), f64::from(y)), (a.sx * kx, -a.sy * ky))
        })
        .collect();
    let lengths: Vec<f64> = px.iter().map(|(_, (vx, vy))| vx.hypot(*vy)).collect();
    let reference = percentile(&lengths, 0.9);
    let scale = if reference > 0.0 && reference.is_finite() { 0.9 * cell / reference } else { 0.0 };
    let canvas = chart.plotting_area().strip_coord_spec();
    let base = chart.plotting_area().get_base_pixel();
    let origin = (f64::from(base.0), f64::from(base.1));
    for (&(p, v), &len) in px.iter().zip(&lengths) {
        if len.is_finite() {
            let anchor = (p.0 - origin.0, p.1 - origin.1);
            draw_arrow(&canvas, anchor, v, len, (len * scale).min(cell))?;
        }
    }
    Ok(())
}

/// Draws the pixel vector `v` (of length `len`) as an arrow `drawn` pixels long centred on
/// `p`, in `canvas`'s pixel coordinates; a dot when it would be under 2 pixels.
fn draw_arrow(canvas: &Root<'_>, p: (f64, f64), v: (f64, f64), len: f64, drawn: f64) -> Result<()> {
    let px = |(x, y): (f64, f64)| (x.round() as i32, y.round() as i32);
    if drawn < 2.0 {
        canvas.draw(&Circle::new(px(p), 1, ARROW_COLOUR.filled()))?;
        return Ok(());
    }
    let (ux, uy) = (v.0 / len, v.1 / len);
    let tail = (p.0 - 0.5 * drawn * ux, p.1 - 0.5 * drawn * uy);
    let tip = (p.0 + 0.5 * drawn * ux, p.1 + 0.5 * drawn * uy);
    let head = (0.35 * drawn).clamp(2.0, 9.0);
    let back = (tip.0 - head * ux, tip.1 - head * uy);
    let (nx, ny) = (-uy * 0.45 * head, ux * 0.45 * head);
    let shaft = vec![px(tail), px(back)];
    canvas.draw(&PathElement::new(shaft, ARROW_COLOUR.stroke_width(1)))?;
    let wings = vec![px(tip), px((back.0 + nx, back.1 + ny)), px((back.0 - nx, back.1 - ny))];
    canvas.draw(&Polygon::new(wings, ARROW_COLOUR.filled()))?;
    Ok(())
}

/// The spacing in pixels between neighbouring arrows of a grid: the plot's width over the
/// number of distinct x positions, or its height over the number of distinct y positions,
/// whichever is smaller, and at most a quarter of the plot's shorter side.
fn spacing(arrows: &[Arrow], w_px: f64, h_px: f64) -> f64 {
    let distinct = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let span = v.last().copied().unwrap_or(0.0) - v.first().copied().unwrap_or(0.0);
        let tol = 1e-9 * span.abs().max(f64::MIN_POSITIVE);
        v.windows(2).filter(|w| w[1] - w[0] > tol).count() + 1
    };
    let nx = distinct(arrows.iter().map(|a| a.x).collect()) as f64;
    let ny = distinct(arrows.iter().map(|a| a.y).collect()) as f64;
    (w_px / nx).min(h_px / ny).min(0.25 * w_px.min(h_px)).max(1.0)
}

/// The `q`-quantile (nearest rank) of the finite `values`; 0 when there is none.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    v[k.min(v.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    /// The score of a standard Gaussian, −x, on an `n × n` grid of cell centres.
    fn gaussian_score(e: &Extent, n: usize) -> Vec<Arrow> {
        Grid2::cell_centers(e, n, n)
            .into_iter()
            .map(|(x, y)| Arrow { x, y, sx: -x, sy: -y })
            .collect()
    }

    #[test]
    fn spacing_and_percentile() {
        let e = Extent::new(-2.0, 2.0, -1.0, 1.0);
        let a = gaussian_score(&e, 10);
        assert!((spacing(&a, 500.0, 400.0) - 40.0).abs() < 1e-9);
        assert_eq!(spacing(&a[..1], 500.0, 400.0), 100.0);
        assert_eq!(spacing(&[], 500.0, 400.0), 100.0);
        assert_eq!(percentile(&[3.0, f64::NAN, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(percentile(&[], 0.9), 0.0);
    }

    #[test]
    fn writes_a_quiver_plot_with_and_without_background() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Extent::new(-3.0, 3.0, -3.0, 3.0);
        let arrows = gaussian_score(&e, 20);
        let plain = dir.path().join("score.png");
        score_field(&plain, &e, &arrows, None, "score of N(0, I)").expect("plot");
        let img = read_png(&plain, SINGLE_SIZE, 20);
        assert_has_text_in_title(&img);
        let density = Grid2::from_fn(&e, 50, 50, |x, y| (-(x * x + y * y) / 2.0).exp());
        let with_bg = dir.path().join("score_bg.png");
        score_field(&with_bg, &e, &arrows, Some(&density), "score over density").expect("plot");
        read_png(&with_bg, SINGLE_SIZE, 50);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("q.png");
        let e = Extent::new(-1.0, 1.0, -1.0, 1.0);
        score_field(&path, &e, &[], None, "no arrows").expect("plot");
        read_png(&path, SINGLE_SIZE, 5);
        let zero = vec![Arrow { x: 0.0, y: 0.0, sx: 0.0, sy: 0.0 }; 3];
        score_field(&path, &e, &zero, None, "zero field").expect("plot");
        let bad = [
            Arrow { x: f64::NAN, y: 0.0, sx: 1.0, sy: 0.0 },
            Arrow { x: 0.0, y: 0.0, sx: f64::INFINITY, sy: 0.0 },
            Arrow { x: 5.0, y: 0.0, sx: 1.0, sy: 0.0 },
            Arrow { x: 0.5, y: 0.5, sx: 1e300, sy: -1e300 },
            Arrow { x: -0.5, y: 0.5, sx: 1e-300, sy: 0.0 },
        ];
        let nan_bg = Grid2::from_fn(&e, 4, 4, |_, _| f64::NAN);
        score_field(&path, &e, &bad, Some(&nan_bg), "bad arrows").expect("plot");
        let far_bg = Grid2::from_fn(&Extent::new(5.0, 6.0, 5.0, 6.0), 4, 4, |_, _| 1.0);
        score_field(&path, &e, &bad, Some(&far_bg), "background elsewhere").expect("plot");
        assert!(score_field(&path, &Extent::new(1.0, -1.0, 0.0, 1.0), &[], None, "").is_err());
    }
}
