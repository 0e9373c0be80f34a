//! The viridis colour map (perceptually uniform, readable with colour-vision deficiency).

use plotters::style::RGBColor;

/// Matplotlib's viridis sampled at t = 0, 0.1, …, 1; colours in between are interpolated
/// linearly, which is visually indistinguishable from the full 256-entry table.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// The viridis colour at `t`, clamped to `[0, 1]`; NaN gives the colour of 0.
pub(crate) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let lo = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - lo as f64;
    let (a, b) = (VIRIDIS[lo], VIRIDIS[lo + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + f * (f64::from(y) - f64::from(x))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// `colour` blended with white: `amount` = 0 keeps it, 1 gives white.
pub(crate) fn lighten(colour: RGBColor, amount: f64) -> RGBColor {
    let a = amount.clamp(0.0, 1.0);
    let mix = |c: u8| (f64::from(c) + a * (255.0 - f64::from(c))).round() as u8;
    RGBColor(mix(colour.0), mix(colour.1), mix(colour.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_midpoint_and_bad_input() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(0.5), RGBColor(0x21, 0x91, 0x8c));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(0.1), RGBColor(0x48, 0x24, 0x75));
        // a quarter of the way from the first stop to the second
        assert_eq!(viridis(0.025), RGBColor(0x45, 0x0a, 0x5c));
    }

    #[test]
    fn viridis_gets_brighter() {
        let luma = |c: RGBColor| {
            0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2)
        };
        let l: Vec<f64> = (0..=20).map(|k| luma(viridis(f64::from(k) / 20.0))).collect();
        assert!(l.windows(2).all(|w| w[1] > w[0]), "{l:?}");
    }

    #[test]
    fn lighten_blends_towards_white() {
        assert_eq!(lighten(RGBColor(0, 100, 255), 0.5), RGBColor(128, 178, 255));
        assert_eq!(lighten(RGBColor(1, 2, 3), 0.0), RGBColor(1, 2, 3));
    }
}
