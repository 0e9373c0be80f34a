//! Layout shared by the figures: the title strip, side-by-side panels and 2-D axes.

use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::geometry::Extent;
use super::output::Root;

/// Font family every text uses (registered by [`super::font`]).
pub(crate) const FONT: &str = "sans-serif";
/// Font size of a figure's title.
pub(crate) const TITLE_SIZE: u32 = 26;
/// Font size of a panel's caption.
pub(crate) const CAPTION_SIZE: u32 = 20;
/// Font size of tick labels and axis descriptions.
pub(crate) const LABEL_SIZE: u32 = 15;

/// A chart with `f64` axes on both sides.
pub(crate) type XyChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The area below a title strip showing `title`; the whole area when `title` is empty.
pub(crate) fn below_title<'b>(root: &Root<'b>, title: &str) -> Result<Root<'b>> {
    if title.trim().is_empty() {
        return Ok(root.clone());
    }
    Ok(root.titled(title, (FONT, TITLE_SIZE))?)
}

/// The left and right halves of `area`.
pub(crate) fn halves<'b>(area: &Root<'b>) -> (Root<'b>, Root<'b>) {
    let width = area.dim_in_pixel().0;
    area.split_horizontally(width / 2)
}

/// Axes over `extent` (already checked) labelled x₁ and x₂, with `caption` above them.
/// `grid_lines` draws a light mesh; heat maps turn it off since they cover it.
pub(crate) fn xy_chart<'a, 'b>(
    area: &'a Root<'b>,
    extent: &Extent,
    caption: &str,
    grid_lines: bool,
) -> Result<XyChart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, CAPTION_SIZE))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d(extent.x_min..extent.x_max, extent.y_min..extent.y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc("x₁")
        .y_desc("x₂")
        .x_labels(7)
        .y_labels(7)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE + 2))
        .light_line_style(WHITE);
    if !grid_lines {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// A tick label: integers without decimals (steps), other values with at most three
/// decimals and no trailing zeros.
pub(crate) fn tick_label(v: &f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_labels() {
        let t = |v: f64| super::tick_label(&v);
        assert_eq!(t(500.0), "500");
        assert_eq!(t(-3.0), "-3");
        assert_eq!(t(0.25), "0.25");
        assert_eq!(t(4.6000000000000005), "4.6");
        assert_eq!(t(-0.0001), "0");
        assert_eq!(t(1e20), "100000000000000000000");
    }
}
