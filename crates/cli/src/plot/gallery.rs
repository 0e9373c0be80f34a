//! A gallery of every figure for a person to look at:
//! `SCOREMATCH_PLOT_GALLERY=/some/dir cargo test -p scorematch-cli -- --ignored gallery`.

use std::path::PathBuf;

use super::*;

/// A mixture of two Gaussian bumps and its score, on `extent`.
fn mixture(x: f64, y: f64) -> (f64, f64, f64) {
    let a = (-((x - 1.0).powi(2) + (y - 1.0).powi(2)) / 0.5).exp();
    let b = 0.6 * (-((x + 1.2).powi(2) + (y + 0.8).powi(2)) / 0.3).exp();
    let p = a + b;
    let gx = a * (-(x - 1.0) / 0.25) + b * (-(x + 1.2) / 0.15);
    let gy = a * (-(y - 1.0) / 0.25) + b * (-(y + 0.8) / 0.15);
    (p, gx / p.max(1e-300), gy / p.max(1e-300))
}

#[test]
#[ignore = "writes figures for a person to look at"]
fn gallery() {
    let dir =
        std::env::var_os("SCOREMATCH_PLOT_GALLERY").map_or_else(std::env::temp_dir, PathBuf::from);
    let e = Extent::new(-3.0, 3.0, -3.0, 3.0);
    let grid = Grid2::from_fn(&e, 80, 80, |x, y| mixture(x, y).0);
    // deterministic pseudo-samples near the two bumps
    let data: Vec<(f64, f64)> = (0..3000)
        .map(|k| {
            let (u, v) = ((k as f64 * 0.618_034).fract(), (k as f64 * 0.414_214).fract());
            let r = (-2.0 * (1.0 - u).ln()).sqrt();
            let (s, c) = (std::f64::consts::TAU * v).sin_cos();
            if k % 8 < 5 {
                (1.0 + 0.5 * r * c, 1.0 + 0.5 * r * s)
            } else {
                (-1.2 + 0.39 * r * c, -0.8 + 0.39 * r * s)
            }
        })
        .collect();
    density_vs_data(&dir.join("density.png"), &grid, &data, "two-bump mixture: model vs data")
        .expect("density");
    let arrows: Vec<Arrow> = Grid2::cell_centers(&e, 24, 24)
        .into_iter()
        .map(|(x, y)| {
            let (_, sx, sy) = mixture(x, y);
            Arrow { x, y, sx, sy }
        })
        .collect();
    score_field(&dir.join("score.png"), &e, &arrows, Some(&grid), "score of the mixture")
        .expect("score");
    score_field(&dir.join("score_plain.png"), &e, &arrows, None, "score, no background")
        .expect("score");
    let samples: Vec<(f64, f64)> =
        data.iter().map(|&(x, y)| (x + 0.1 * (y * 7.0).sin(), y)).collect();
    samples_vs_data(&dir.join("samples.png"), &samples, &data, &e, "Langevin samples vs data")
        .expect("samples");
    scatter(&dir.join("scatter.png"), &samples, &Extent::covering(&[&samples], 0.05), "samples")
        .expect("scatter");
    let train: Vec<(f64, f64)> = (0..2000)
        .map(|s| {
            (s as f64, -1.0 + 2.0 * (-(s as f64) / 300.0).exp() + 0.05 * (s as f64 * 0.7).sin())
        })
        .collect();
    let val: Vec<(f64, f64)> =
        (0..=20).map(|k| (k as f64 * 100.0, -0.9 + 2.0 * (-(k as f64) / 3.0).exp())).collect();
    loss_curves(
        &dir.join("loss.png"),
        &[("train", &train), ("validation", &val)],
        "sliced score matching",
        "loss",
    )
    .expect("loss");
    // degenerate inputs
    let one = [(5.0, 0.25)];
    let gappy = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 0.5), (3.0, f64::INFINITY), (4.0, 0.4)];
    loss_curves(
        &dir.join("loss_degenerate.png"),
        &[("one point", &one), ("with NaN", &gappy)],
        "degenerate",
        "loss",
    )
    .expect("loss");
    let constant = Grid2::from_fn(&e, 10, 10, |_, _| 2.0);
    density_vs_data(
        &dir.join("density_degenerate.png"),
        &constant,
        &[],
        "constant density, no data",
    )
    .expect("density");
    // four columns: the two bumps, a sum of them and a constant-ish one
    let columns = |pts: &[(f64, f64)]| -> Vec<Vec<f64>> {
        vec![
            pts.iter().map(|p| p.0).collect(),
            pts.iter().map(|p| p.1).collect(),
            pts.iter().map(|p| p.0 + 0.5 * p.1).collect(),
            pts.iter().map(|p| 0.1 * (p.0 * 5.0).sin()).collect(),
        ]
    };
    let names: Vec<String> = ["x", "y", "x + y/2", "ripple"].map(String::from).into();
    corner(
        &dir.join("corner.png"),
        &names,
        &columns(&samples),
        &columns(&data),
        "samples over data",
    )
    .expect("corner");
    let digits: Vec<f64> = (0..100)
        .flat_map(|k| {
            (0..64).map(move |p| {
                let (r, c) = (p / 8, p % 8);
                let ring = ((r as f64 - 3.5).powi(2) + (c as f64 - 3.5).powi(2)).sqrt();
                16.0 * (-(ring - 2.5 - 0.3 * (k as f64).sin()).powi(2)).exp()
            })
        })
        .collect();
    image_grids(&dir.join("images.png"), (8, 8), &digits[..64 * 40], &digits, "rings")
        .expect("images");
    crate::output::err_line(&format!("figures written to {}", dir.display()));
}
