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

/// How a chart's axes look: [`chart`] draws them.
pub(crate) struct AxesStyle<'s> {
    /// Text above the axes (none when empty).
    pub caption: &'s str,
    /// Description of the x axis.
    pub x_desc: &'s str,
    /// Description of the y axis.
    pub y_desc: &'s str,
    /// A light mesh under the data (heat maps turn it off since they cover it).
    pub grid_lines: bool,
    /// Labels on the y axis (a histogram's density needs none).
    pub y_tick_labels: bool,
    /// Font size of tick labels (axis descriptions are 2 points larger).
    pub label_size: u32,
    /// Empty margin around the chart, in pixels.
    pub margin: u32,
    /// Room for the x axis's labels, in pixels.
    pub x_label_area: u32,
    /// Room for the y axis's labels, in pixels.
    pub y_label_area: u32,
    /// Tick labels per axis, at most.
    pub ticks: usize,
}

impl AxesStyle<'_> {
    /// The style of a figure's main 2-D panels: axes x₁ and x₂, `caption` above them.
    pub(crate) fn xy(caption: &str, grid_lines: bool) -> AxesStyle<'_> {
        AxesStyle {
            caption,
            x_desc: "x₁",
            y_desc: "x₂",
            grid_lines,
            y_tick_labels: true,
            label_size: LABEL_SIZE,
            margin: 12,
            x_label_area: 42,
            y_label_area: 56,
            ticks: 7,
        }
    }
}

/// Axes over `extent` (already checked) labelled x₁ and x₂, with `caption` above them.
/// `grid_lines` draws a light mesh; heat maps turn it off since they cover it.
pub(crate) fn xy_chart<'a, 'b>(
    area: &'a Root<'b>,
    extent: &Extent,
    caption: &str,
    grid_lines: bool,
) -> Result<XyChart<'a, 'b>> {
    chart(area, extent, &AxesStyle::xy(caption, grid_lines))
}

/// Axes over `extent` (already checked) drawn in `style`.
pub(crate) fn chart<'a, 'b>(
    area: &'a Root<'b>,
    extent: &Extent,
    style: &AxesStyle<'_>,
) -> Result<XyChart<'a, 'b>> {
    let mut builder = ChartBuilder::on(area);
    if !style.caption.is_empty() {
        builder.caption(style.caption, (FONT, CAPTION_SIZE));
    }
    let mut chart = builder
        .margin(style.margin)
        .margin_right(2 * style.margin)
        .x_label_area_size(style.x_label_area)
        .y_label_area_size(style.y_label_area)
        .build_cartesian_2d(extent.x_min..extent.x_max, extent.y_min..extent.y_max)?;
    let no_label = |_: &f64| String::new();
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(style.x_desc)
        .y_desc(style.y_desc)
        .x_labels(style.ticks)
        .y_labels(style.ticks)
        .x_label_formatter(&tick_label)
        .y_label_formatter(if style.y_tick_labels { &tick_label } else { &no_label })
        .label_style((FONT, style.label_size))
        .axis_desc_style((FONT, style.label_size + 2))
        .light_line_style(WHITE);
    if !style.grid_lines {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// A row of coloured squares, each followed by its label, from the left of `area` and
/// centred on its height (a legend for figures whose panels are too small for one).
pub(crate) fn legend_row(area: &Root<'_>, entries: &[(&str, RGBColor)]) -> Result<()> {
    let height = area.dim_in_pixel().1 as i32;
    let side = LABEL_SIZE as i32;
    let (mut x, y) = (16, (height - side) / 2);
    let style: TextStyle<'_> = (FONT, LABEL_SIZE + 1).into_font().into();
    for &(label, colour) in entries {
        area.draw(&Rectangle::new([(x, y), (x + side, y + side)], colour.filled()))?;
        area.draw(&Text::new(label, (x + side + 8, y), style.clone()))?;
        let (width, _) = area.estimate_text_size(label, &style)?;
        x += side + 8 + width as i32 + 32;
    }
    Ok(())
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
