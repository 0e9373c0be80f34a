//! Lines on log-log axes: one per named series (cost against the data dimension,
//! `scorematch reproduce scaling`).

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::SINGLE_SIZE;
use super::curves::{draw_lines, single_chart};
use super::output::write_png;
use super::panel::{FONT, LABEL_SIZE, below_title, tick_label};

/// Writes an 800×600 PNG with one line (with markers) per named series of `(x, y)` points
/// on log-log axes, with a legend. Points that are not finite and positive are skipped; no
/// such point at all gives empty axes over [1, 10]².
pub fn log_log(
    path: &Path,
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<()> {
    let shown: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, pts)| {
            let ok = |v: f64| v.is_finite() && v > 0.0;
            (name.as_str(), pts.iter().copied().filter(|&(x, y)| ok(x) && ok(y)).collect())
        })
        .collect();
    let all = shown.iter().flat_map(|(_, p)| p.iter());
    let (xs, ys) = (log_range(all.clone().map(|p| p.0)), log_range(all.map(|p| p.1)));
    ensure!(xs.0 > 0.0 && ys.0 > 0.0 && xs.1.is_finite() && ys.1.is_finite(), "nothing to plot");
    write_png(path, SINGLE_SIZE, |root| {
        let area = below_title(root, title)?;
        let mut chart = single_chart(&area, 80)
            .build_cartesian_2d((xs.0..xs.1).log_scale(), (ys.0..ys.1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&log_tick)
            .y_label_formatter(&log_tick)
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE + 2))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        draw_lines(&mut chart, &shown, usize::MAX, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

/// A tick label of a log axis: plain between 0.01 and 10⁵, else in scientific notation.
fn log_tick(v: &f64) -> String {
    if (0.01..1e5).contains(&v.abs()) { tick_label(v) } else { format!("{v:.0e}") }
}

/// The range of positive `values` widened by a factor 1.5 on each side; [1, 10] for none.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi { (1.0, 10.0) } else { (lo / 1.5, hi * 1.5) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    #[test]
    fn draws_power_laws() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scaling.png");
        let dims = [2.0, 10.0, 100.0, 1024.0];
        let series = vec![
            ("esm".to_string(), dims.iter().map(|&d| (d, 1e-3 * d)).collect()),
            ("ssm".to_string(), dims.iter().map(|&d| (d, 1e-3)).collect()),
        ];
        log_log(&path, &series, "seconds per iteration", "D", "s").expect("plot");
        let img = read_png(&path, SINGLE_SIZE, 30);
        assert_has_text_in_title(&img);
        use crate::plot::curves::PALETTE;
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(PALETTE[0]) && has(PALETTE[1]));
        assert_eq!(log_range([2.0, 8.0].into_iter()), (2.0 / 1.5, 12.0));
        assert_eq!(
            (log_tick(&0.5), log_tick(&1e-4), log_tick(&1024.0)),
            ("0.5".into(), "1e-4".into(), "1024".into())
        );
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.png");
        log_log(&path, &[], "nothing", "x", "y").expect("plot");
        let bad =
            vec![("bad".to_string(), vec![(0.0, 1.0), (-1.0, 2.0), (f64::NAN, 3.0), (2.0, 0.0)])];
        log_log(&path, &bad, "bad", "x", "y").expect("plot");
        let one = vec![("one".to_string(), vec![(5.0, 0.25)])];
        log_log(&path, &one, "one", "x", "y").expect("plot");
    }
}
