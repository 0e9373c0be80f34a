//! Scatter plots: samples next to data, and a single point cloud.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::geometry::Extent;
use super::output::{Root, write_png};
use super::panel::{below_title, halves, xy_chart};
use super::{SINGLE_SIZE, WIDE_SIZE};

/// Colour of data points.
pub(crate) const DATA_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// Colour of model samples.
pub(crate) const SAMPLE_COLOUR: RGBColor = RGBColor(255, 127, 14);

/// Writes a 1200×600 PNG: the `data` points on the left and the model's `samples` on the
/// right, in two colours, on the same `extent`. Points outside it or not finite are left out
/// (each caption says how many are shown).
pub fn samples_vs_data(
    path: &Path,
    samples: &[(f64, f64)],
    data: &[(f64, f64)],
    extent: &Extent,
    title: &str,
) -> Result<()> {
    let extent = extent.checked()?;
    write_png(path, WIDE_SIZE, |root| {
        let area = below_title(root, title)?;
        let (left, right) = halves(&area);
        scatter_panel(&left, &extent, data, DATA_COLOUR, "data")?;
        scatter_panel(&right, &extent, samples, SAMPLE_COLOUR, "samples")?;
        Ok(())
    })
}

/// Writes an 800×600 PNG of `points` on `extent` (e.g. `scorematch sample --plot`). Points
/// outside the extent or not finite are left out.
pub fn scatter(path: &Path, points: &[(f64, f64)], extent: &Extent, title: &str) -> Result<()> {
    let extent = extent.checked()?;
    write_png(path, SINGLE_SIZE, |root| {
        let area = below_title(root, title)?;
        scatter_panel(&area, &extent, points, SAMPLE_COLOUR, "")
    })
}

/// Axes over `extent` with the visible `points` as dots; the caption names `what` (if not
/// empty) and counts the points.
fn scatter_panel(
    area: &Root<'_>,
    extent: &Extent,
    points: &[(f64, f64)],
    colour: RGBColor,
    what: &str,
) -> Result<()> {
    let shown: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(x, y)| x.is_finite() && y.is_finite() && extent.contains((x, y)))
        .collect();
    let count = if shown.len() == points.len() {
        format!("{} points", points.len())
    } else {
        format!("{} of {} points in view", shown.len(), points.len())
    };
    let caption = if what.is_empty() { count } else { format!("{what} ({count})") };
    let mut chart = xy_chart(area, extent, &caption, true)?;
    // big clouds get small translucent dots so their density stays readable
    let (radius, alpha) = match shown.len() {
        0..=2_000 => (3, 0.7),
        2_001..=20_000 => (2, 0.45),
        _ => (1, 0.3),
    };
    let style = colour.mix(alpha).filled();
    chart.draw_series(shown.iter().map(|&p| Circle::new(p, radius, style)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    fn ring(n: usize, r: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|k| {
                let t = k as f64 * 0.7;
                ((r + 0.2 * (t * 3.1).sin()) * t.cos(), (r + 0.2 * (t * 1.7).cos()) * t.sin())
            })
            .collect()
    }

    #[test]
    fn writes_two_coloured_panels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("samples.png");
        let e = Extent::new(-3.0, 3.0, -3.0, 3.0);
        samples_vs_data(&path, &ring(3000, 1.5), &ring(1000, 2.0), &e, "samples vs data")
            .expect("plot");
        let img = read_png(&path, WIDE_SIZE, 30);
        assert_has_text_in_title(&img);
        // data is drawn in blue on the left, samples in orange on the right
        let blueish = |p: &image::Rgb<u8>| i32::from(p.0[2]) > i32::from(p.0[0]) + 40;
        let orangeish = |p: &image::Rgb<u8>| i32::from(p.0[0]) > i32::from(p.0[2]) + 40;
        let count = |x0: u32, f: &dyn Fn(&image::Rgb<u8>) -> bool| {
            (x0..x0 + 600)
                .flat_map(|x| (0..600).map(move |y| (x, y)))
                .filter(|&(x, y)| f(img.get_pixel(x, y)))
                .count()
        };
        assert!(count(0, &blueish) > 1000 && count(0, &orangeish) == 0);
        assert!(count(600, &orangeish) > 1000 && count(600, &blueish) == 0);
    }

    #[test]
    fn writes_a_single_scatter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scatter.png");
        let pts = ring(30_000, 1.0);
        scatter(&path, &pts, &Extent::covering(&[&pts], 0.05), "30k samples").expect("plot");
        let img = read_png(&path, SINGLE_SIZE, 20);
        assert_has_text_in_title(&img);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.png");
        let e = Extent::new(-1.0, 1.0, -1.0, 1.0);
        scatter(&path, &[], &e, "empty").expect("plot");
        read_png(&path, SINGLE_SIZE, 5);
        let bad = [(f64::NAN, 0.0), (0.0, f64::NEG_INFINITY), (9.0, 9.0), (0.0, 0.0)];
        scatter(&path, &bad, &e, "bad points").expect("plot");
        samples_vs_data(&path, &bad, &[], &e, "").expect("plot");
        let single = [(2.0, 3.0)];
        scatter(&path, &single, &Extent::covering(&[&single], 0.1), "one point").expect("plot");
        assert!(scatter(&path, &single, &Extent::new(0.0, f64::INFINITY, 0.0, 1.0), "").is_err());
    }
}
