//! Curves: one line per named series, e.g. the loss against the training step, or the time
//! of a step against the data dimension.

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

use super::SINGLE_SIZE;
use super::output::{Root, write_png};
use super::panel::{CAPTION_SIZE, FONT, LABEL_SIZE, below_title, tick_label};

/// Line colours, in order of the series (matplotlib's first tab10 colours).
pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Series with at most this many points also get a marker on each point.
const MARKERS_UP_TO: usize = 40;

/// Writes an 800×600 PNG with one line per named series of `(step, value)` points, e.g.
/// `[("train", &train), ("validation", &val)]`, with a legend, `step` on the x axis and
/// `y_label` on the y axis (linear). Points with a non-finite step or value are skipped; a
/// series with one point shows as a marker; no points at all gives empty axes.
pub fn loss_curves(
    path: &Path,
    series: &[(&str, &[(f64, f64)])],
    title: &str,
    y_label: &str,
) -> Result<()> {
    curves(path, series, title, "step", y_label)
}

/// [`loss_curves`] with any quantity on the x axis, named by `x_label` (both axes linear:
/// plot logarithms for log axes, and say so in the labels).
pub fn curves(
    path: &Path,
    series: &[(&str, &[(f64, f64)])],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<()> {
    let finite: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, pts)| {
            (*name, pts.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect())
        })
        .collect();
    let all = finite.iter().flat_map(|(_, p)| p.iter());
    let (xs, ys) = (range(all.clone().map(|p| p.0), 0.0), range(all.map(|p| p.1), 0.05));
    ensure!(
        (xs.1 - xs.0).is_finite() && (ys.1 - ys.0).is_finite(),
        "the values span too wide a range to plot"
    );
    write_png(path, SINGLE_SIZE, |root| {
        let area = below_title(root, title)?;
        let mut chart = single_chart(&area, 72).build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&tick_label)
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE + 2))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        draw_lines(&mut chart, &finite, MARKERS_UP_TO, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// The builder of a single chart filling `area`, with `y_label_area` pixels for the y
/// axis's labels: the margins every one-panel figure uses.
pub(crate) fn single_chart<'a, 'b>(
    area: &'a Root<'b>,
    y_label_area: u32,
) -> ChartBuilder<'a, 'b, BitMapBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(16).margin_right(32).x_label_area_size(42).y_label_area_size(y_label_area);
    builder
}

/// Draws each named series of `(x, y)` points on `chart` as a line in the palette's
/// colours (with a marker on each point when a series has at most `markers_up_to`), and a
/// legend at `legend` of the named ones. Empty series are skipped.
pub(crate) fn draw_lines<'a, 'b: 'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Cartesian2d<X, Y>>,
    series: &[(&str, Vec<(f64, f64)>)],
    markers_up_to: usize,
    legend: SeriesLabelPosition,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut labelled = false;
    for (k, (name, pts)) in series.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let colour = PALETTE[k % PALETTE.len()];
        if pts.len() <= markers_up_to {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        let drawn =
            chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?;
        if !name.is_empty() {
            labelled = true;
            drawn.label(*name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .position(legend)
            .label_font((FONT, CAPTION_SIZE - 4))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
    }
    Ok(())
}

/// The range of `values` padded by `pad` of its width on each side; a single value gets a
/// window around it, no value gives `[0, 1]`.
fn range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if lo == hi {
        let half = (0.1 * lo.abs()).max(0.5);
        return (lo - half, hi + half);
    }
    let p = pad * (hi - lo);
    (lo - p, hi + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    #[test]
    fn ranges() {
        assert_eq!(range([1.0, 3.0].into_iter(), 0.0), (1.0, 3.0));
        assert_eq!(range([1.0, 3.0].into_iter(), 0.5), (0.0, 4.0));
        assert_eq!(range([10.0].into_iter(), 0.05), (9.0, 11.0));
        assert_eq!(range([0.0].into_iter(), 0.05), (-0.5, 0.5));
        assert_eq!(range(std::iter::empty(), 0.05), (0.0, 1.0));
    }

    #[test]
    fn writes_train_and_validation_curves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("loss.png");
        let train: Vec<(f64, f64)> = (0..2000)
            .map(|s| (s as f64, -1.0 + 2.0 * (-(s as f64) / 300.0).exp() + 0.05 * (s as f64).sin()))
            .collect();
        let val: Vec<(f64, f64)> =
            (0..=20).map(|k| (k as f64 * 100.0, -0.9 + 2.0 * (-(k as f64) / 3.0).exp())).collect();
        loss_curves(
            &path,
            &[("train", &train), ("validation", &val)],
            "sliced score matching",
            "loss",
        )
        .expect("plot");
        let img = read_png(&path, SINGLE_SIZE, 30);
        assert_has_text_in_title(&img);
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(PALETTE[0]) && has(PALETTE[1]));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.png");
        loss_curves(&path, &[], "nothing", "loss").expect("plot");
        read_png(&path, SINGLE_SIZE, 5);
        let one = [(5.0, 0.25)];
        let bad = [
            (0.0, f64::NAN),
            (1.0, f64::INFINITY),
            (f64::NAN, 1.0),
            (2.0, 0.5),
            (3.0, f64::NEG_INFINITY),
            (4.0, 0.4),
        ];
        let nan_only = [(0.0, f64::NAN)];
        loss_curves(
            &path,
            &[("one", &one), ("bad", &bad), ("nan", &nan_only), ("", &one)],
            "mixed",
            "",
        )
        .expect("plot");
        let flat = [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)];
        loss_curves(&path, &[("flat", &flat)], "", "loss").expect("plot");
        let huge = [(0.0, -1e308), (1.0, 1e308)];
        assert!(loss_curves(&path, &[("huge", &huge)], "", "loss").is_err());
    }
}
