//! Corner plots: every pair of a few columns, samples over data.
//!
//! A `k`-column corner plot is a `k × k` grid of square panels below a header (the title
//! and a legend): on the diagonal, the histogram of each column (as densities, so that
//! sets of different sizes compare); below it, the scatter of each pair of columns; above
//! it, nothing. Each column has one axis range, shared by its panels, that covers the
//! data and the central 98% of the samples (a few diverged chains do not squash the
//! picture).

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::geometry::Extent;
use super::output::{Root, write_png};
use super::panel::{AxesStyle, LABEL_SIZE, below_title, chart, legend_row};
use super::scatter::{DATA_COLOUR, SAMPLE_COLOUR};

/// Side of one panel, in pixels.
pub const CORNER_PANEL: u32 = 220;
/// Height of the header (title and legend) above the panels, in pixels.
pub const CORNER_HEADER: u32 = 80;
/// Points of each set drawn in a scatter panel, at most (evenly spaced rows); histograms
/// count every row.
const MAX_SCATTER_POINTS: usize = 2000;
/// Bins of each histogram.
const BINS: usize = 30;

/// The size in pixels of a corner plot of `k` columns.
pub fn corner_size(k: usize) -> (u32, u32) {
    let side = CORNER_PANEL * k.max(1) as u32;
    (side, CORNER_HEADER + side)
}

/// Writes a corner plot ([`corner_size`]) of the columns `names`: `samples[c]` and
/// `data[c]` hold column `c`'s values (`data` empty: samples only). Non-finite values are
/// left out.
pub fn corner(
    path: &Path,
    names: &[String],
    samples: &[Vec<f64>],
    data: &[Vec<f64>],
    title: &str,
) -> Result<()> {
    let k = names.len();
    ensure!(k > 0, "a corner plot needs at least one column");
    ensure!(
        samples.len() == k && (data.is_empty() || data.len() == k),
        "a corner plot of {k} columns got {} sample and {} data columns",
        samples.len(),
        data.len()
    );
    let extents =
        (0..k).map(|c| axis_range(&samples[c], pick(data, c))).collect::<Result<Vec<_>>>()?;
    let count = |sets: &[Vec<f64>]| sets.first().map_or(0, Vec::len);
    let legend = |what: &str, n: usize| {
        if n > MAX_SCATTER_POINTS {
            format!("{what}: {n} ({MAX_SCATTER_POINTS} in each scatter)")
        } else {
            format!("{what}: {n}")
        }
    };
    let mut entries = vec![(legend("samples", count(samples)), SAMPLE_COLOUR)];
    if !data.is_empty() {
        entries.insert(0, (legend("data rows", count(data)), DATA_COLOUR));
    }
    write_png(path, corner_size(k), |root| {
        let (header, grid) = root.split_vertically(CORNER_HEADER);
        let legend_area = below_title(&header, title)?;
        let entries: Vec<(&str, RGBColor)> =
            entries.iter().map(|(t, c)| (t.as_str(), *c)).collect();
        legend_row(&legend_area, &entries)?;
        let panels = grid.split_evenly((k, k));
        for (at, area) in panels.iter().enumerate() {
            let (row, col) = (at / k, at % k);
            if col > row {
                continue;
            }
            let style = AxesStyle {
                caption: "",
                x_desc: if row == k - 1 { names[col].as_str() } else { "" },
                y_desc: if col == 0 && row > 0 { names[row].as_str() } else { "" },
                grid_lines: false,
                y_tick_labels: row != col,
                label_size: LABEL_SIZE - 4,
                margin: 4,
                x_label_area: 34,
                y_label_area: 46,
                ticks: 4,
            };
            if row == col {
                histograms(area, &extents[col], &[pick(data, col), pick(samples, col)], &style)?;
            } else {
                let extent =
                    Extent::new(extents[col].0, extents[col].1, extents[row].0, extents[row].1);
                let pairs = [
                    (pick(data, col), pick(data, row), DATA_COLOUR),
                    (pick(samples, col), pick(samples, row), SAMPLE_COLOUR),
                ];
                pair_scatter(area, &extent.checked()?, &pairs, &style)?;
            }
        }
        Ok(())
    })
}

/// Column `c` of `sets`, or nothing when there is no such column (no data).
fn pick(sets: &[Vec<f64>], c: usize) -> &[f64] {
    sets.get(c).map_or(&[], Vec::as_slice)
}

/// The range of a column's axis: the finite `data` values and the central 98% of the
/// finite `samples`, padded by 5% each side (a single value gets ±0.5).
fn axis_range(samples: &[f64], data: &[f64]) -> Result<(f64, f64)> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    let quantile = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    let central = (!s.is_empty()).then(|| [quantile(0.01), quantile(0.99)]);
    let values = data.iter().copied().chain(central.into_iter().flatten());
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Ok((-1.0, 1.0));
    }
    let pad = 0.05 * (hi - lo);
    let e = Extent::new(lo - pad, hi + pad, 0.0, 1.0).checked()?;
    Ok((e.x_min, e.x_max))
}

/// The histograms of `sets` (data, then samples) over `range`, as densities, in
/// translucent bars.
fn histograms(
    area: &Root<'_>,
    range: &(f64, f64),
    sets: &[&[f64]; 2],
    style: &AxesStyle<'_>,
) -> Result<()> {
    let (lo, hi) = *range;
    let width = (hi - lo) / BINS as f64;
    let density = |values: &[f64]| {
        let mut counts = [0usize; BINS];
        let inside = values.iter().filter(|v| (lo..=hi).contains(*v));
        for v in inside {
            counts[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.map(|c| c as f64 / (n * width))
    };
    let heights = sets.map(density);
    let top = heights.iter().flatten().fold(0.0_f64, |m, &h| m.max(h));
    let extent = Extent::new(lo, hi, 0.0, if top > 0.0 { 1.08 * top } else { 1.0 });
    let mut chart = chart(area, &extent, style)?;
    for (bars, colour) in heights.iter().zip([DATA_COLOUR, SAMPLE_COLOUR]) {
        let style = colour.mix(0.45).filled();
        chart.draw_series(bars.iter().enumerate().filter(|(_, h)| **h > 0.0).map(|(b, &h)| {
            let x0 = lo + b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, h)], style)
        }))?;
    }
    Ok(())
}

/// The scatter of each `(x values, y values, colour)` set over `extent`, at most
/// [`MAX_SCATTER_POINTS`] evenly spaced points of each, in order (the last on top).
fn pair_scatter(
    area: &Root<'_>,
    extent: &Extent,
    sets: &[(&[f64], &[f64], RGBColor)],
    style: &AxesStyle<'_>,
) -> Result<()> {
    let mut chart = chart(area, extent, style)?;
    for &(xs, ys, colour) in sets {
        let stride = xs.len().div_ceil(MAX_SCATTER_POINTS).max(1);
        let dot = colour.mix(0.5).filled();
        let points = xs
            .iter()
            .zip(ys)
            .step_by(stride)
            .map(|(&x, &y)| (x, y))
            .filter(|&(x, y)| x.is_finite() && y.is_finite() && extent.contains((x, y)));
        chart.draw_series(points.map(|p| Circle::new(p, 1, dot)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    /// Column `c` of `n` rows of a correlated cloud, shifted by `shift`.
    fn cloud(k: usize, n: usize, shift: f64) -> Vec<Vec<f64>> {
        (0..k)
            .map(|c| {
                (0..n)
                    .map(|i| {
                        let t = i as f64 * 0.618_034;
                        shift + (t * (c + 1) as f64).sin() * (1.0 + c as f64) + (t * 0.7).cos()
                    })
                    .collect()
            })
            .collect()
    }

    /// The pixels of panel (`row`, `col`) of a corner plot that are not white.
    fn inked(img: &image::RgbImage, row: u32, col: u32) -> usize {
        let (x0, y0) = (col * CORNER_PANEL, CORNER_HEADER + row * CORNER_PANEL);
        (x0..x0 + CORNER_PANEL)
            .flat_map(|x| (y0..y0 + CORNER_PANEL).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 != [255, 255, 255])
            .count()
    }

    #[test]
    fn panels_fill_the_lower_triangle_in_two_colours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("corner.png");
        let names: Vec<String> = ["alcohol", "pH", "sulphates", "density"].map(String::from).into();
        corner(&path, &names, &cloud(4, 1000, 0.3), &cloud(4, 5000, 0.0), "samples over data")
            .expect("plot");
        let img = read_png(&path, corner_size(4), 30);
        assert_eq!(corner_size(4), (880, 960));
        assert_has_text_in_title(&img);
        for row in 0..4 {
            for col in 0..4 {
                let ink = inked(&img, row, col);
                if col > row {
                    assert_eq!(ink, 0, "panel ({row}, {col}) above the diagonal is blank");
                } else {
                    assert!(ink > 2000, "panel ({row}, {col}) has {ink} inked pixels");
                }
            }
        }
        // Both colours appear in a scatter panel: blue data under orange samples.
        let (x0, y0) = (0, CORNER_HEADER + 3 * CORNER_PANEL);
        let pixels: Vec<[u8; 3]> = (x0..x0 + CORNER_PANEL)
            .flat_map(|x| (y0..y0 + CORNER_PANEL).map(move |y| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0)
            .collect();
        let blue = pixels.iter().filter(|p| i32::from(p[2]) > i32::from(p[0]) + 60).count();
        let orange = pixels.iter().filter(|p| i32::from(p[0]) > i32::from(p[2]) + 60).count();
        assert!(blue > 200 && orange > 200, "blue {blue}, orange {orange}");
    }

    #[test]
    fn samples_alone_and_degenerate_columns_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.png");
        let names: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let mut samples = cloud(3, 300, 0.0);
        samples[1] = vec![2.0; 300];
        samples[2][7] = f64::NAN;
        samples[2][8] = 1e30;
        corner(&path, &names, &samples, &[], "samples only").expect("plot");
        let img = read_png(&path, corner_size(3), 10);
        assert!(inked(&img, 2, 0) > 500 && inked(&img, 0, 2) == 0);
        corner(&path, &names[..1], &[vec![]], &[], "one empty column").expect("plot");
        read_png(&path, corner_size(1), 5);
        assert!(corner(&path, &names, &samples[..2], &[], "").is_err());
        assert!(corner(&path, &[], &[], &[], "").is_err());
    }
}
