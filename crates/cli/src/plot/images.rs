//! Image grids: rows that are pictures, samples beside data.

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::output::{Root, write_png};
use super::panel::{CAPTION_SIZE, FONT, below_title, halves};
use super::{SINGLE_SIZE, WIDE_SIZE};

/// Images shown in each grid, at most (the first rows).
const MAX_IMAGES: usize = 64;
/// Images per row of a grid, at most.
const GRID_COLUMNS: usize = 8;
/// Colour of a pixel whose value is not finite.
const NOT_FINITE: RGBColor = RGBColor(214, 39, 40);

/// Writes a PNG of the first images of `samples` and `data` (row-major rows of
/// `height × width` pixels each, themselves row-major) as grey-scale grids: data on the
/// left and samples on the right (1200×600), or the samples alone (800×600) when `data` is
/// empty. Every image is drawn on one grey scale, black at the data's smallest value and
/// white at its largest (the samples' when there is no data); values beyond are clipped,
/// non-finite ones are red.
pub fn image_grids(
    path: &Path,
    (height, width): (usize, usize),
    samples: &[f64],
    data: &[f64],
    title: &str,
) -> Result<()> {
    let pixels = height * width;
    ensure!(pixels > 0, "an image needs at least one pixel ({height}x{width})");
    ensure!(
        samples.len().is_multiple_of(pixels) && data.len().is_multiple_of(pixels),
        "rows of {height}x{width} images need a multiple of {pixels} values"
    );
    let scale = grey_range(if data.is_empty() { samples } else { data });
    let grid = |area: &Root<'_>, values: &[f64], what: &str| {
        let n = values.len() / pixels;
        let shown = n.min(MAX_IMAGES);
        let caption = if shown < n {
            format!("{what} (first {shown} of {n})")
        } else {
            format!("{what} ({n})")
        };
        let area = area.titled(&caption, (FONT, CAPTION_SIZE))?;
        draw_grid(&area, (height, width), &values[..shown * pixels], scale)
    };
    let size = if data.is_empty() { SINGLE_SIZE } else { WIDE_SIZE };
    write_png(path, size, |root| {
        let area = below_title(root, title)?;
        if data.is_empty() {
            return grid(&area, samples, "samples");
        }
        let (left, right) = halves(&area);
        grid(&left, data, "data")?;
        grid(&right, samples, "samples")
    })
}

/// The smallest and largest finite values (`(0, 1)` when there is none; a constant gets a
/// unit range).
fn grey_range(values: &[f64]) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    match (lo, hi) {
        _ if lo > hi => (0.0, 1.0),
        _ if lo == hi => (lo - 0.5, hi + 0.5),
        _ => (lo, hi),
    }
}

/// The images in `values` in a grid of up to [`GRID_COLUMNS`] per row, from the top and
/// centred across, with square pixels as large as a full grid of [`MAX_IMAGES`] in `area`
/// allows (so that grids of fewer images side by side keep the same scale), on the grey
/// scale `(black, white)`.
fn draw_grid(
    area: &Root<'_>,
    (height, width): (usize, usize),
    values: &[f64],
    (black, white): (f64, f64),
) -> Result<()> {
    let count = values.len() / (height * width);
    if count == 0 {
        return Ok(());
    }
    let cols = count.min(GRID_COLUMNS);
    let (full_cols, full_rows) = (GRID_COLUMNS as f64, MAX_IMAGES.div_ceil(GRID_COLUMNS) as f64);
    let (w, h) = area.dim_in_pixel();
    let gap = 4.0;
    let pixel = f64::min(
        (f64::from(w) - 20.0 - gap * full_cols) / (full_cols * width as f64),
        (f64::from(h) - 20.0 - gap * full_rows) / (full_rows * height as f64),
    )
    .max(1.0);
    let cell = (pixel * width as f64 + gap, pixel * height as f64 + gap);
    let left = (f64::from(w) - cell.0 * cols as f64) / 2.0;
    let top = 10.0;
    let grey = |v: f64| {
        if !v.is_finite() {
            return NOT_FINITE;
        }
        let g = (255.0 * ((v - black) / (white - black)).clamp(0.0, 1.0)).round() as u8;
        RGBColor(g, g, g)
    };
    for (k, image) in values.chunks_exact(height * width).enumerate() {
        let x0 = left + (k % cols) as f64 * cell.0;
        let y0 = top + (k / cols) as f64 * cell.1;
        for (p, &v) in image.iter().enumerate() {
            let (x, y) = (x0 + (p % width) as f64 * pixel, y0 + (p / width) as f64 * pixel);
            let corner = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
            let rect = [corner(x, y), corner(x + pixel, y + pixel)];
            area.draw(&Rectangle::new(rect, grey(v).filled()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    /// `n` 4×3 images: a bright diagonal stroke whose brightness varies with the image.
    fn strokes(n: usize, brightness: f64) -> Vec<f64> {
        (0..n)
            .flat_map(|k| {
                (0..12).map(move |p| {
                    let on = p / 3 == p % 3 || (k % 3 == 0 && p == 11);
                    if on { brightness * (0.5 + 0.5 * (k as f64 * 0.3).sin().abs()) } else { 0.0 }
                })
            })
            .collect()
    }

    /// Counts of (black, white-ish grey) pixels in the columns `x0..x1` below the title.
    fn greys(img: &image::RgbImage, x0: u32, x1: u32) -> (usize, usize) {
        let pixels: Vec<[u8; 3]> = (x0..x1)
            .flat_map(|x| (60..img.height()).map(move |y| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0)
            .filter(|p| p[0] == p[1] && p[1] == p[2])
            .collect();
        let black = pixels.iter().filter(|p| p[0] == 0).count();
        let bright = pixels.iter().filter(|p| (100..250).contains(&p[0])).count();
        (black, bright)
    }

    #[test]
    fn samples_beside_data_on_the_datas_grey_scale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("images.png");
        image_grids(&path, (4, 3), &strokes(100, 16.0), &strokes(70, 16.0), "samples vs data")
            .expect("plot");
        let img = read_png(&path, WIDE_SIZE, 20);
        assert_has_text_in_title(&img);
        for half in [0, 600] {
            let (black, bright) = greys(&img, half, half + 600);
            assert!(
                black > 20_000 && bright > 2_000,
                "half at {half}: {black} black, {bright} bright"
            );
        }
        // Samples beyond the data's range are clipped to white, not rescaled.
        image_grids(&path, (4, 3), &strokes(10, 1000.0), &strokes(10, 1.0), "").expect("plot");
        let img = read_png(&path, WIDE_SIZE, 5);
        let white_in_samples = (600..1200)
            .flat_map(|x| (60..600).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == [255, 255, 255])
            .count();
        assert!(greys(&img, 600, 1200).1 < 100 && white_in_samples > 1000);
    }

    #[test]
    fn samples_alone_and_bad_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("i.png");
        let mut samples = strokes(5, 1.0);
        samples[3] = f64::NAN;
        image_grids(&path, (4, 3), &samples, &[], "five samples").expect("plot");
        let img = read_png(&path, SINGLE_SIZE, 5);
        assert!(img.pixels().any(|p| p.0 == [214, 39, 40]), "a NaN pixel is red");
        image_grids(&path, (1, 1), &[3.0; 4], &[], "constant").expect("plot");
        image_grids(&path, (2, 2), &[], &[], "none").expect("plot");
        assert!(image_grids(&path, (2, 2), &[0.0; 5], &[], "").is_err());
        assert!(image_grids(&path, (0, 2), &[], &[], "").is_err());
    }
}
