//! Atomic PNG output: draw into a temporary file next to the target, then rename it over.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use scorematch::data::PartialFile;

use super::font;

/// The whole image, in pixel coordinates.
pub(crate) type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws a `size` PNG with `draw` on a white background and writes it to `path` atomically:
/// either the complete new image replaces `path`, or `path` is left as it was.
///
/// The file is PNG whatever `path`'s extension is.
pub(crate) fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Root<'_>) -> Result<()>,
) -> Result<()> {
    font::ensure_registered()?;
    // The encoder picks the format from the extension: the partial file ends in `.png`.
    // Dropped uncommitted (a failed drawing, which the backend still writes on drop), it is
    // removed.
    let partial = PartialFile::new(path, ".png")?;
    let drawn = draw_to(partial.path(), size, draw).and_then(|()| {
        let tmp = partial.path().to_path_buf();
        partial
            .commit()
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
    });
    drawn.with_context(|| format!("cannot write the plot {}", path.display()))
}

/// Draws into a fresh bitmap and saves it to `tmp`.
fn draw_to(tmp: &Path, size: (u32, u32), draw: impl FnOnce(&Root<'_>) -> Result<()>) -> Result<()> {
    let root = BitMapBackend::new(tmp, size).into_drawing_area();
    root.fill(&WHITE)?;
    draw(&root)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;
    use std::fs;

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("readable dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn success_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plot.png");
        fs::write(&path, b"old").expect("write");
        write_png(&path, (40, 30), |root| {
            root.fill(&RED)?;
            Ok(())
        })
        .expect("plot written");
        assert_eq!(dir_entries(dir.path()), vec!["plot.png".to_string()]);
        let img = image::open(&path).expect("valid png").to_rgb8();
        assert_eq!(img.dimensions(), (40, 30));
        assert_eq!(img.get_pixel(5, 5).0, [255, 0, 0]);
    }

    #[test]
    fn failure_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plot.png");
        fs::write(&path, b"old").expect("write");
        let err = write_png(&path, (40, 30), |_| bail!("broken figure")).expect_err("must fail");
        assert!(format!("{err:#}").contains("broken figure"), "{err:#}");
        assert_eq!(dir_entries(dir.path()), vec!["plot.png".to_string()]);
        assert_eq!(fs::read(&path).expect("read"), b"old");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no/such/dir/plot.png");
        assert!(write_png(&path, (10, 10), |_| Ok(())).is_err());
        assert!(write_png(Path::new("/"), (10, 10), |_| Ok(())).is_err());
    }
}
