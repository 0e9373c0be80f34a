//! Figures of data with more than two columns (issue 13, item 3): the corner plot of
//! samples over data and the image grids, from `train` and `sample --plot`, read back.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, check_png, run_in, s, tempdir};

/// Side of a corner plot's panel and height of its header, in pixels (`plot::corner`).
const PANEL: u32 = 220;
const HEADER: u32 = 80;
const WIDE: (u32, u32) = (1200, 600);

/// The size of a corner plot of `k` columns.
fn corner_size(k: u32) -> (u32, u32) {
    (k * PANEL, HEADER + k * PANEL)
}

/// Writes 600 rows of four columns of different spreads: `alcohol, pH, sugar, acid`.
fn write_data(path: &Path) {
    let mut text = String::from("alcohol,pH,sugar,acid\n");
    for i in 0..600 {
        let t = i as f64 * 0.618_034;
        let a = 3.0 * (t * 7.0).sin();
        let row = [a, 0.2 * (t * 3.0).cos(), 0.5 * a + (t * 11.0).sin(), 1.5 * (t * 5.0).cos()];
        let row: Vec<String> = row.iter().map(|v| format!("{v:.5}")).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).expect("data written");
}

/// Trains a small model on `data` into `dir/run` with `extra` flags.
fn train(dir: &Path, data: &Path, extra: &[&str]) -> (PathBuf, Run) {
    let out = dir.join("run");
    let mut args =
        vec!["train", "--data", s(data), "--steps", "30", "--hidden", "16,16", "--out", s(&out)];
    args.extend_from_slice(extra);
    (out.clone(), run_in(dir, &args))
}

/// Checks that the corner plot at `path` has `k` columns: its size, ink in every panel on
/// and below the diagonal, none above it; and, with `data`, both colours in the bottom-left
/// scatter panel.
#[track_caller]
fn check_corner(path: &Path, k: u32, data: bool) {
    check_png(path, corner_size(k));
    let img = image::open(path).expect("png").to_rgb8();
    let panel = |row: u32, col: u32| {
        let (x0, y0) = (col * PANEL, HEADER + row * PANEL);
        (x0..x0 + PANEL)
            .flat_map(|x| (y0..y0 + PANEL).map(move |y| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0)
            .filter(|p| *p != [255, 255, 255])
            .collect::<Vec<_>>()
    };
    for row in 0..k {
        for col in 0..k {
            let ink = panel(row, col).len();
            if col > row {
                assert_eq!(ink, 0, "{}: panel ({row}, {col}) is drawn", path.display());
            } else {
                assert!(ink > 1500, "{}: panel ({row}, {col}) has {ink} pixels", path.display());
            }
        }
    }
    let corner = panel(k - 1, 0);
    let blue = corner.iter().filter(|p| i32::from(p[2]) > i32::from(p[0]) + 60).count();
    let orange = corner.iter().filter(|p| i32::from(p[0]) > i32::from(p[2]) + 60).count();
    assert!(orange > 100, "{}: {orange} sample pixels", path.display());
    assert_eq!(blue > 100, data, "{}: {blue} data pixels", path.display());
}

#[test]
fn train_draws_a_corner_plot_and_images_and_a_rerun_removes_stale_ones() {
    let dir = tempdir();
    let data = dir.path().join("d.csv");
    write_data(&data);
    let (run, r) =
        train(dir.path(), &data, &["--image-shape", "2x2", "--plot-columns", "acid,0,pH"]);
    r.ok();
    check_corner(&run.join("corner.png"), 3, true);
    check_png(&run.join("images.png"), WIDE);
    assert!(!run.join("density.png").exists() && !run.join("samples.png").exists());
    assert!(r.stderr.contains("corner.png shows the samples over the data"), "{}", r.stderr);
    let config = std::fs::read_to_string(run.join("config.toml")).expect("config");
    assert!(config.contains("[figures]") && config.contains("image_shape = \"2x2\""), "{config}");
    // A forced rerun without an image shape: the largest-variance columns (all four), and
    // the old images.png removed.
    let (run, r) = train(dir.path(), &data, &["--force"]);
    r.ok();
    check_corner(&run.join("corner.png"), 4, true);
    assert!(!run.join("images.png").exists(), "a stale images.png is left: {}", r.stderr);
}

#[test]
fn wrong_image_shapes_and_plot_columns_are_usage_errors() {
    let dir = tempdir();
    let data = dir.path().join("d.csv");
    write_data(&data);
    let (run, r) = train(dir.path(), &data, &["--image-shape", "3x3"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("--image-shape 3x3: has 9 pixels but the data has 4 columns")
            && r.stderr.contains("such as 2x2"),
        "{}",
        r.stderr
    );
    assert!(!run.exists(), "no run folder for a refused run");
    let (_, r) = train(dir.path(), &data, &["--plot-columns", "sugar,suger"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("--plot-columns suger: no column is named so")
            && r.stderr.contains("did you mean 'sugar'"),
        "{}",
        r.stderr
    );
    let (_, r) = train(dir.path(), &data, &["--image-shape", "2by2"]);
    r.expect_code(2);
    assert!(r.stderr.contains("HEIGHTxWIDTH"), "{}", r.stderr);
}

#[test]
fn sample_draws_a_corner_plot_over_data_and_an_image_grid() {
    let dir = tempdir();
    let data = dir.path().join("d.csv");
    write_data(&data);
    let (run, r) = train(dir.path(), &data, &["--no-plots", "--image-shape", "2x2"]);
    r.ok();
    assert!(
        r.stderr.contains("ignoring --image-shape: the figures are not drawn (plots = false)"),
        "{}",
        r.stderr
    );
    let checkpoint = run.join("checkpoint.safetensors");
    let sample = |extra: &[&str]| {
        let mut args = vec!["sample", "--checkpoint", s(&checkpoint), "--n", "300"];
        args.extend_from_slice(&["--steps", "50", "--force"]);
        args.extend_from_slice(extra);
        run_in(dir.path(), &args)
    };
    let plot = dir.path().join("s.png");
    sample(&["--out", "s.csv", "--plot", s(&plot), "--data", s(&data)]).ok();
    check_corner(&plot, 4, true);
    sample(&["--out", "s.csv", "--plot", s(&plot), "--plot-columns", "sugar,acid"]).ok();
    check_corner(&plot, 2, false);
    let r =
        sample(&["--out", "s.csv", "--plot", s(&plot), "--data", s(&data), "--image-shape", "2x2"]);
    r.ok();
    check_png(&dir.path().join("s-images.png"), WIDE);
    assert!(r.stderr.contains("s-images.png"), "{}", r.stderr);
    let r = sample(&["--out", "s.csv", "--plot", s(&plot), "--image-shape", "1x3"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--image-shape 1x3: has 3 pixels"), "{}", r.stderr);
    let r = sample(&["--out", "s.csv", "--plot", s(&plot), "--plot-columns", "9"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--plot-columns 9: no column has this index"), "{}", r.stderr);
    let r = sample(&["--out", "s.csv", "--image-shape", "2x2"]);
    r.expect_code(2);
    assert!(r.stderr.contains("add --plot"), "{}", r.stderr);
    let r = sample(&["--out", "s.csv", "--plot", s(&plot), "--data", s(&data), "--columns", "pH"]);
    r.expect_code(2);
    assert!(r.stderr.contains("does not fit the checkpoint"), "{}", r.stderr);
    let r = sample(&["--out", "s.csv", "--plot", s(&plot), "--columns", "pH"]);
    r.expect_code(2);
    assert!(r.stderr.contains("add --data"), "{}", r.stderr);
}

#[test]
fn sample_draws_two_dimensions_beside_data_and_one_as_a_histogram() {
    let dir = tempdir();
    let run = common::train_small(dir.path(), "two", &["--no-plots"]);
    let checkpoint = run.join("checkpoint.safetensors");
    let plot = dir.path().join("s.png");
    let args = ["--out", "s.csv", "--plot", s(&plot), "--n", "200", "--steps", "20", "--force"];
    let sample = |extra: &[&str]| {
        let mut all = vec!["sample", "--checkpoint", s(&checkpoint)];
        all.extend_from_slice(&args);
        all.extend_from_slice(extra);
        run_in(dir.path(), &all)
    };
    sample(&["--data", "eight-gaussians"]).ok();
    check_png(&plot, WIDE);
    sample(&[]).ok();
    check_png(&plot, (800, 600));
    // One column of the data: a corner plot of one panel, its histogram.
    let data = dir.path().join("d.csv");
    write_data(&data);
    let (one, r) = train(dir.path(), &data, &["--columns", "sugar", "--no-plots"]);
    r.ok();
    let checkpoint = one.join("checkpoint.safetensors");
    let r = run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&checkpoint), "--data", s(&data), "--columns", "sugar"]
            .iter()
            .chain(&args)
            .copied()
            .collect::<Vec<_>>(),
    );
    r.ok();
    check_corner(&plot, 1, true);
}
