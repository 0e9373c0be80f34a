//! The font plots draw their text with, embedded in the binary.
//!
//! plotters is built with its `ab_glyph` text backend and no system font support, so a font
//! must be registered before the first text is drawn (drawing text with no registered font
//! fails). DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`) is
//! registered once per process under each family name plotters may ask for.

use std::sync::OnceLock;

use anyhow::Result;
use plotters::style::{FontStyle, register_font};

/// DejaVu Sans Book, unmodified.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The outcome of the one registration, shared by every later call.
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the embedded font with plotters on the first call; later calls only return the
/// first call's outcome.
pub(crate) fn ensure_registered() -> Result<()> {
    let outcome = REGISTERED.get_or_init(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            register_font(family, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded font DejaVu Sans could not be parsed".to_string())?;
        }
        Ok(())
    });
    outcome.clone().map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_font_registers_and_stays_registered() {
        assert!(super::ensure_registered().is_ok());
        assert!(super::ensure_registered().is_ok());
    }
}
