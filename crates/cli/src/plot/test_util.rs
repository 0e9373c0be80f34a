//! Checks shared by the plot tests: decode a written PNG and make sure it shows something.

use std::collections::HashSet;
use std::path::Path;

use image::RgbImage;

/// Decodes the PNG at `path`, asserting its size and that it has more than `min_colours`
/// distinct colours (a blank or single-colour image fails).
pub(crate) fn read_png(path: &Path, size: (u32, u32), min_colours: usize) -> RgbImage {
    let img = image::open(path).expect("a decodable PNG").to_rgb8();
    assert_eq!(img.dimensions(), size, "{}", path.display());
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(colours.len() > min_colours, "{}: only {} colours", path.display(), colours.len());
    img
}

/// Asserts that the title strip (the top 40 rows) has dark, anti-aliased pixels: text was
/// drawn with the embedded font.
pub(crate) fn assert_has_text_in_title(img: &RgbImage) {
    let strip: Vec<[u8; 3]> = (0..40)
        .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0)
        .collect();
    let dark = strip.iter().filter(|p| p.iter().all(|&c| c < 80)).count();
    let grey: HashSet<&[u8; 3]> =
        strip.iter().filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 0 && p[0] < 255).collect();
    assert!(dark > 50, "title strip has {dark} dark pixels");
    assert!(grey.len() > 5, "title text is not anti-aliased ({} grey levels)", grey.len());
}
