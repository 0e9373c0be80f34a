//! Model density against a 2-D histogram of the data, as two heat maps side by side.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::WIDE_SIZE;
use super::colormap::viridis;
use super::geometry::{Extent, Grid2};
use super::output::write_png;
use super::panel::{XyChart, below_title, halves, xy_chart};

/// Writes a 1200×600 PNG: on the left the model density `grid` as a viridis heat map, on the
/// right a histogram of `data` with the grid's extent and cells. Each panel is scaled to its
/// own maximum. Non-finite or negative densities are drawn as zero; data points outside the
/// extent or not finite are not counted.
pub fn density_vs_data(path: &Path, grid: &Grid2, data: &[(f64, f64)], title: &str) -> Result<()> {
    grid.check()?;
    let extent = grid.extent().checked()?;
    let (counts, counted) = histogram(&grid.extent(), grid.nx, grid.ny, data);
    write_png(path, WIDE_SIZE, |root| {
        let area = below_title(root, title)?;
        let (left, right) = halves(&area);
        let mut chart = xy_chart(&left, &extent, "model density", false)?;
        draw_cells(
            &mut chart,
            &grid.extent(),
            grid.nx,
            grid.ny,
            |i, j| grid.drawn_value(i, j),
            &|c| c,
        )?;
        let caption = if counted == data.len() {
            format!("data histogram ({counted} points)")
        } else {
            format!("data histogram ({counted} of {} points in view)", data.len())
        };
        let mut chart = xy_chart(&right, &extent, &caption, false)?;
        draw_cells(
            &mut chart,
            &grid.extent(),
            grid.nx,
            grid.ny,
            |i, j| counts[j * grid.nx + i],
            &|c| c,
        )?;
        Ok(())
    })
}

/// Counts of `points` in the `nx × ny` cells of `extent` (row-major, row 0 at the bottom),
/// and how many points were counted. Points on the upper edges count in the last cell.
pub(crate) fn histogram(
    extent: &Extent,
    nx: usize,
    ny: usize,
    points: &[(f64, f64)],
) -> (Vec<f64>, usize) {
    let mut counts = vec![0.0; nx * ny];
    let mut counted = 0;
    for &(x, y) in points {
        let cell =
            bin(x, extent.x_min, extent.x_max, nx).zip(bin(y, extent.y_min, extent.y_max, ny));
        if let Some((i, j)) = cell {
            counts[j * nx + i] += 1.0;
            counted += 1;
        }
    }
    (counts, counted)
}

/// The bin of `v` among `n` equal bins of `[lo, hi]`, `None` outside (or for NaN).
fn bin(v: f64, lo: f64, hi: f64, n: usize) -> Option<usize> {
    if n == 0 || !(lo..=hi).contains(&v) {
        return None;
    }
    if hi == lo {
        return Some(0);
    }
    let k = ((v - lo) / (hi - lo) * n as f64).floor() as usize;
    Some(k.min(n - 1))
}

/// Fills the `nx × ny` cells of `cells` with colours of `value(i, j)` scaled by the largest
/// value (viridis, passed through `tint`), clipped to the chart's extent.
pub(crate) fn draw_cells(
    chart: &mut XyChart<'_, '_>,
    cells: &Extent,
    nx: usize,
    ny: usize,
    value: impl Fn(usize, usize) -> f64,
    tint: &dyn Fn(RGBColor) -> RGBColor,
) -> Result<()> {
    let shown = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let max = (0..ny)
        .flat_map(|j| (0..nx).map(move |i| (i, j)))
        .map(|(i, j)| shown(value(i, j)))
        .fold(0.0, f64::max);
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let dx = (cells.x_max - cells.x_min) / nx.max(1) as f64;
    let dy = (cells.y_max - cells.y_min) / ny.max(1) as f64;
    let mut rects = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x0 = (cells.x_min + i as f64 * dx).max(xr.start);
            let x1 = (cells.x_min + (i + 1) as f64 * dx).min(xr.end);
            let y0 = (cells.y_min + j as f64 * dy).max(yr.start);
            let y1 = (cells.y_min + (j + 1) as f64 * dy).min(yr.end);
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            let t = if max > 0.0 { shown(value(i, j)) / max } else { 0.0 };
            rects.push(Rectangle::new([(x0, y0), (x1, y1)], tint(viridis(t)).filled()));
        }
    }
    chart.draw_series(rects)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    fn two_bumps() -> Grid2 {
        let e = Extent::new(-3.0, 3.0, -3.0, 3.0);
        Grid2::from_fn(&e, 60, 60, |x, y| {
            (-((x - 1.0).powi(2) + (y - 1.0).powi(2))).exp()
                + 0.5 * (-((x + 1.5).powi(2) + y * y) * 2.0).exp()
        })
    }

    #[test]
    fn bins_cover_the_closed_extent() {
        assert_eq!(bin(0.0, 0.0, 1.0, 4), Some(0));
        assert_eq!(bin(0.26, 0.0, 1.0, 4), Some(1));
        assert_eq!(bin(1.0, 0.0, 1.0, 4), Some(3));
        assert_eq!(bin(1.01, 0.0, 1.0, 4), None);
        assert_eq!(bin(f64::NAN, 0.0, 1.0, 4), None);
        assert_eq!(bin(2.0, 2.0, 2.0, 4), Some(0));
        let (h, n) = histogram(
            &Extent::new(0.0, 2.0, 0.0, 2.0),
            2,
            2,
            &[(0.5, 1.5), (1.5, 0.5), (1.5, 0.6), (5.0, 0.0)],
        );
        assert_eq!((h, n), (vec![0.0, 2.0, 1.0, 0.0], 3));
    }

    #[test]
    fn writes_two_heat_maps_oriented_with_y_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("density.png");
        // all the mass in the top-right quadrant
        let e = Extent::new(-1.0, 1.0, -1.0, 1.0);
        let grid = Grid2::from_fn(&e, 40, 40, |x, y| if x > 0.0 && y > 0.0 { 1.0 } else { 0.0 });
        // one data point in each cell of the same quadrant
        let data: Vec<(f64, f64)> = Grid2::cell_centers(&e, 40, 40)
            .into_iter()
            .filter(|&(x, y)| x > 0.0 && y > 0.0)
            .collect();
        density_vs_data(&path, &grid, &data, "density check").expect("plot");
        let img = read_png(&path, WIDE_SIZE, 50);
        assert_has_text_in_title(&img);
        let top = viridis(1.0);
        let bottom = viridis(0.0);
        for panel_x in [0, 600] {
            // the panels' plot areas span roughly x 70..590 (within the panel), y 75..545
            assert_eq!(img.get_pixel(panel_x + 470, 180).0, [top.0, top.1, top.2]);
            assert_eq!(img.get_pixel(panel_x + 180, 450).0, [bottom.0, bottom.1, bottom.2]);
            assert_eq!(img.get_pixel(panel_x + 470, 450).0, [bottom.0, bottom.1, bottom.2]);
        }
        let smooth = dir.path().join("bumps.png");
        let pts: Vec<(f64, f64)> = (0..500)
            .map(|k| (1.0 + (k as f64 * 0.37).sin(), 1.0 + (k as f64 * 0.11).cos()))
            .collect();
        density_vs_data(&smooth, &two_bumps(), &pts, "two bumps").expect("plot");
        read_png(&smooth, WIDE_SIZE, 50);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.png");
        let e = Extent::new(-1.0, 1.0, -1.0, 1.0);
        // constant density, no data
        density_vs_data(&path, &Grid2::from_fn(&e, 10, 10, |_, _| 2.0), &[], "").expect("plot");
        read_png(&path, WIDE_SIZE, 10);
        // NaN, inf and negative densities, non-finite data
        let mut g = two_bumps();
        g.values[0] = f64::NAN;
        g.values[1] = f64::INFINITY;
        g.values[2] = -1.0;
        density_vs_data(&path, &g, &[(f64::NAN, 0.0), (0.0, f64::INFINITY)], "bad values")
            .expect("plot");
        // all-NaN grid, a 1×1 grid, a zero-width extent
        density_vs_data(&path, &Grid2::from_fn(&e, 5, 5, |_, _| f64::NAN), &[(0.0, 0.0)], "nan")
            .expect("plot");
        density_vs_data(&path, &Grid2::from_fn(&e, 1, 1, |_, _| 1.0), &[(0.0, 0.0)], "one")
            .expect("plot");
        let flat = Extent::new(0.0, 0.0, -1.0, 1.0);
        density_vs_data(&path, &Grid2::from_fn(&flat, 3, 3, |_, _| 1.0), &[(0.0, 0.0)], "flat")
            .expect("plot");
        // invalid shapes are errors
        let mut short = two_bumps();
        short.values.pop();
        assert!(density_vs_data(&path, &short, &[], "short").is_err());
        let nan_extent = Grid2::from_fn(&Extent::new(0.0, f64::NAN, 0.0, 1.0), 2, 2, |_, _| 1.0);
        assert!(density_vs_data(&path, &nan_extent, &[], "nan extent").is_err());
    }
}
