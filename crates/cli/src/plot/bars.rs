//! Bar charts: one bar per label with its standard deviation as an error bar (results over
//! seeds, `scorematch reproduce`).

use std::path::Path;

use anyhow::{Result, ensure};
use plotters::prelude::*;

use super::SINGLE_SIZE;
use super::curves::{PALETTE, single_chart};
use super::output::write_png;
use super::panel::{FONT, LABEL_SIZE, below_title, tick_label};

/// Writes an 800×600 PNG with one bar per `(label, mean, sd)`, from zero to the mean (bars
/// of negative means hang down), an error bar of ± sd when sd > 0, labels under the axis
/// and `y_label` on the y axis. Non-finite means draw no bar; no finite mean gives empty
/// axes.
pub fn bars(path: &Path, bars: &[(String, f64, f64)], title: &str, y_label: &str) -> Result<()> {
    let ends = bars.iter().filter(|b| b.1.is_finite()).flat_map(|&(_, m, s)| {
        let s = if s.is_finite() { s } else { 0.0 };
        [m - s, m + s]
    });
    let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = 0.08 * (hi - lo).max(1e-12);
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, if hi > 0.0 { hi + pad } else { 0.0 });
    let (lo, hi) = if lo == hi { (-1.0, 1.0) } else { (lo, hi) };
    ensure!((hi - lo).is_finite(), "the bar values span too wide a range to plot");
    let n = bars.len().max(1);
    write_png(path, SINGLE_SIZE, |root| {
        let area = below_title(root, title)?;
        let mut chart = single_chart(&area, 80).build_cartesian_2d(0.0..n as f64, lo..hi)?;
        let label_of = |x: &f64| {
            let i = x.floor();
            let centred = (x - i - 0.5).abs() < 1e-6;
            match bars.get(i as usize) {
                Some(b) if centred && i >= 0.0 => b.0.clone(),
                _ => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n + 1)
            .x_label_formatter(&label_of)
            .y_desc(y_label)
            .y_labels(8)
            .y_label_formatter(&tick_label)
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE + 2))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (_, mean, sd)) in bars.iter().enumerate() {
            if !mean.is_finite() {
                continue;
            }
            let (x0, x1) = (i as f64 + 0.15, i as f64 + 0.85);
            let colour = PALETTE[i % PALETTE.len()];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, *mean)],
                colour.filled(),
            )))?;
            if sd.is_finite() && *sd > 0.0 {
                let xc = i as f64 + 0.5;
                let black = BLACK.stroke_width(2);
                chart.draw_series([
                    PathElement::new(vec![(xc, mean - sd), (xc, mean + sd)], black),
                    PathElement::new(vec![(xc - 0.1, mean - sd), (xc + 0.1, mean - sd)], black),
                    PathElement::new(vec![(xc - 0.1, mean + sd), (xc + 0.1, mean + sd)], black),
                ])?;
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            BLACK.stroke_width(1),
        )))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::{assert_has_text_in_title, read_png};

    #[test]
    fn draws_positive_and_negative_bars_with_error_bars() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bars.png");
        let data = vec![
            ("mle".to_string(), -80.0, 2.0),
            ("ssm".to_string(), -120.0, 10.0),
            ("dsm".to_string(), 30.0, 0.0),
        ];
        bars(&path, &data, "test log-likelihood", "nats").expect("plot");
        let img = read_png(&path, SINGLE_SIZE, 30);
        assert_has_text_in_title(&img);
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(PALETTE[0]) && has(PALETTE[1]) && has(PALETTE[2]));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.png");
        bars(&path, &[], "nothing", "").expect("plot");
        let odd = vec![("nan".to_string(), f64::NAN, 1.0), ("zero".to_string(), 0.0, f64::NAN)];
        bars(&path, &odd, "odd", "y").expect("plot");
        let huge = vec![("a".to_string(), -1e308, 0.0), ("b".to_string(), 1e308, 0.0)];
        assert!(bars(&path, &huge, "", "y").is_err());
    }
}
