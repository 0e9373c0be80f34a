//! Built-in 2-D toy densities (the FFJORD / NCSN benchmark set), as seeded samplers.
//!
//! All live in roughly `[-4, 4]²`. Definitions follow FFJORD's `toy_data.py`, with two
//! deliberate changes: deterministic `linspace` positions are replaced by uniform random ones
//! (so every sample is i.i.d.), and eight gaussians uses the exact constant `√2` rather than
//! `1.414`, so that the sampler draws from exactly the mixture whose density is reported.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::dataset::{Dataset, default_columns};
use super::mixture::GaussianMixture;
use crate::{Error, Result};

/// A built-in 2-D density. See [`datasets_table`] for a one-line description of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToyDensity {
    /// Eight isotropic Gaussians, equal weights, centres `2√2·(cos kπ/4, sin kπ/4)`,
    /// `k = 0..7`, standard deviation `σ = 1/(2√2) ≈ 0.354`. Exact density and score.
    EightGaussians,
    /// Two interleaved half circles (scikit-learn `make_moons`, noise 0.1), scaled by 2 and
    /// shifted by `(−1, −0.2)`.
    TwoMoons,
    /// Four concentric rings of radii 0.75, 1.5, 2.25, 3 (equal probability, uniform angle),
    /// plus `N(0, 0.08²)` noise per coordinate.
    Rings,
    /// Uniform on the 8 squares of side 2 in `[-4, 4)²` whose integer cell indices
    /// `(⌊x/2⌋ + ⌊y/2⌋)` are even; density `1/32` there, 0 elsewhere.
    Checkerboard,
    /// Swiss roll: `t = 1.5π(1 + 2u)`, `(t cos t, t sin t) + N(0, I)`, all divided by 5.
    SwissRoll,
    /// Pinwheel with 5 arms: radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2.
    Pinwheel,
    /// Two interleaved spirals: `r = 3π√u`, `(−r cos r, r sin r) + U[0, 0.5)²`, mirrored for
    /// half the points, divided by 3, plus `N(0, 0.1²)` noise.
    TwoSpirals,
    /// A correlated 2-D Gaussian, mean `(0.5, −0.5)`, covariance `[[1.5, 1.2], [1.2, 1.5]]`
    /// (correlation 0.8). Exact density and score.
    Gaussian,
}

/// One row of [`datasets_table`]: what `scorematch datasets` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatasetInfo {
    /// Canonical name (accepted by [`ToyDensity::from_name`]).
    pub name: &'static str,
    /// Dimension of a sample.
    pub dim: usize,
    /// Whether [`ToyDensity::log_density`] is available (exact).
    pub has_true_density: bool,
    /// Whether [`ToyDensity::score`] is available (exact).
    pub has_true_score: bool,
    /// One-line description.
    pub description: &'static str,
}

/// One [`DatasetInfo`] per built-in density, in [`ToyDensity::all`] order.
pub fn datasets_table() -> Vec<DatasetInfo> {
    ToyDensity::all()
        .iter()
        .map(|t| DatasetInfo {
            name: t.name(),
            dim: t.dim(),
            has_true_density: t.has_true_density(),
            has_true_score: t.has_true_score(),
            description: t.description(),
        })
        .collect()
}

const EIGHT_RADIUS: f64 = 2.0 * std::f64::consts::SQRT_2;
const EIGHT_SIGMA: f64 = 0.5 / std::f64::consts::SQRT_2;

fn eight_gaussians_model() -> Option<&'static GaussianMixture> {
    static M: OnceLock<Option<GaussianMixture>> = OnceLock::new();
    M.get_or_init(|| {
        let means = (0..8)
            .map(|k| {
                let a = k as f64 * std::f64::consts::FRAC_PI_4;
                vec![EIGHT_RADIUS * a.cos(), EIGHT_RADIUS * a.sin()]
            })
            .collect();
        GaussianMixture::isotropic(means, EIGHT_SIGMA).ok()
    })
    .as_ref()
}

fn gaussian_model() -> Option<&'static GaussianMixture> {
    static M: OnceLock<Option<GaussianMixture>> = OnceLock::new();
    M.get_or_init(|| GaussianMixture::gaussian(vec![0.5, -0.5], vec![1.5, 1.2, 1.2, 1.5]).ok())
        .as_ref()
}

fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

impl ToyDensity {
    /// All built-in densities.
    pub fn all() -> &'static [ToyDensity] {
        use ToyDensity::*;
        &[EightGaussians, TwoMoons, Rings, Checkerboard, SwissRoll, Pinwheel, TwoSpirals, Gaussian]
    }

    /// Canonical (kebab-case) name.
    pub fn name(self) -> &'static str {
        match self {
            ToyDensity::EightGaussians => "eight-gaussians",
            ToyDensity::TwoMoons => "two-moons",
            ToyDensity::Rings => "rings",
            ToyDensity::Checkerboard => "checkerboard",
            ToyDensity::SwissRoll => "swiss-roll",
            ToyDensity::Pinwheel => "pinwheel",
            ToyDensity::TwoSpirals => "two-spirals",
            ToyDensity::Gaussian => "gaussian",
        }
    }

    /// Parses a name: the canonical one, case-insensitively, with `-`, `_` and spaces
    /// ignored, plus the FFJORD spellings (`8gaussians`, `moons`, `circles`, `2spirals`).
    /// The error lists the valid names.
    pub fn from_name(name: &str) -> Result<ToyDensity> {
        let key: String = name
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let t = match key.as_str() {
            "eightgaussians" | "8gaussians" => ToyDensity::EightGaussians,
            "twomoons" | "moons" => ToyDensity::TwoMoons,
            "rings" | "circles" => ToyDensity::Rings,
            "checkerboard" => ToyDensity::Checkerboard,
            "swissroll" => ToyDensity::SwissRoll,
            "pinwheel" => ToyDensity::Pinwheel,
            "twospirals" | "2spirals" | "spirals" => ToyDensity::TwoSpirals,
            "gaussian" => ToyDensity::Gaussian,
            _ => {
                let valid: Vec<&str> = Self::all().iter().map(|t| t.name()).collect();
                return Err(Error::InvalidArgument(format!(
                    "unknown built-in dataset '{name}'; valid names: {}",
                    valid.join(", ")
                )));
            }
        };
        Ok(t)
    }

    /// One-line description.
    pub fn description(self) -> &'static str {
        match self {
            ToyDensity::EightGaussians => "8 Gaussians (sd 0.354) on a circle of radius 2.83",
            ToyDensity::TwoMoons => "two interleaved half circles with noise 0.2",
            ToyDensity::Rings => "4 concentric rings, radii 0.75 to 3, noise 0.08",
            ToyDensity::Checkerboard => "uniform on 8 squares of a 4x4 checkerboard in [-4,4]^2",
            ToyDensity::SwissRoll => "2-D swiss roll with unit noise, scaled by 1/5",
            ToyDensity::Pinwheel => "5-armed pinwheel",
            ToyDensity::TwoSpirals => "two interleaved spirals with noise 0.1",
            ToyDensity::Gaussian => "correlated Gaussian, mean (0.5,-0.5), correlation 0.8",
        }
    }

    /// Dimension of a sample (2 for every built-in).
    pub fn dim(self) -> usize {
        2
    }

    /// Whether [`ToyDensity::log_density`] is available.
    pub fn has_true_density(self) -> bool {
        matches!(self, ToyDensity::EightGaussians | ToyDensity::Gaussian | ToyDensity::Checkerboard)
    }

    /// Whether [`ToyDensity::score`] is available.
    pub fn has_true_score(self) -> bool {
        self.true_model_ref().is_some()
    }

    fn true_model_ref(self) -> Option<&'static GaussianMixture> {
        match self {
            ToyDensity::EightGaussians => eight_gaussians_model(),
            ToyDensity::Gaussian => gaussian_model(),
            _ => None,
        }
    }

    /// The exact density as a [`GaussianMixture`], for the Gaussian toys
    /// ([`ToyDensity::EightGaussians`], [`ToyDensity::Gaussian`]); `None` otherwise.
    pub fn true_model(self) -> Option<GaussianMixture> {
        self.true_model_ref().cloned()
    }

    /// The exact `log p(x)`, or `None` when there is no closed form or `x.len() != dim()`.
    ///
    /// For [`ToyDensity::Checkerboard`] this is `−log 32` on the support and `−∞` off it.
    pub fn log_density(self, x: &[f64]) -> Option<f64> {
        if x.len() != self.dim() {
            return None;
        }
        if self == ToyDensity::Checkerboard {
            return Some(checkerboard_log_density(x[0], x[1]));
        }
        self.true_model_ref()?.log_density(x).ok()
    }

    /// The exact score `∇ₓ log p(x)`, or `None` when there is no closed form (including the
    /// checkerboard, whose score is zero almost everywhere and undefined on edges) or
    /// `x.len() != dim()`.
    pub fn score(self, x: &[f64]) -> Option<Vec<f64>> {
        self.true_model_ref()?.score(x).ok()
    }

    /// Draws `n` i.i.d. samples; columns are named `x0`, `x1`.
    pub fn sample<R: Rng + ?Sized>(self, n: usize, rng: &mut R) -> Dataset {
        let mut data = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let [a, b] = self.sample_point(rng);
            data.push(a);
            data.push(b);
        }
        Dataset::from_parts(n, 2, data, default_columns(2))
    }

    /// [`ToyDensity::sample`] with a `StdRng` seeded by `seed`.
    pub fn sample_seeded(self, n: usize, seed: u64) -> Dataset {
        self.sample(n, &mut StdRng::seed_from_u64(seed))
    }

    fn sample_point<R: Rng + ?Sized>(self, rng: &mut R) -> [f64; 2] {
        use std::f64::consts::PI;
        match self {
            ToyDensity::EightGaussians | ToyDensity::Gaussian => {
                // Exactly `GaussianMixture::sample` for the true model.
                match self.true_model_ref() {
                    Some(m) => {
                        let c = m.pick_component(rng.random::<f64>());
                        let (mut z, mut out) = ([0.0; 2], [0.0; 2]);
                        m.sample_component_into(c, rng, &mut z, &mut out);
                        out
                    }
                    None => [normal(rng), normal(rng)],
                }
            }
            ToyDensity::TwoMoons => {
                let t = rng.random::<f64>() * PI;
                let (x, y) = if rng.random::<bool>() {
                    (t.cos(), t.sin())
                } else {
                    (1.0 - t.cos(), 1.0 - t.sin() - 0.5)
                };
                let x = x + 0.1 * normal(rng);
                let y = y + 0.1 * normal(rng);
                [2.0 * x - 1.0, 2.0 * y - 0.2]
            }
            ToyDensity::Rings => {
                let r = 0.75 * (1 + rng.random_range(0..4u32)) as f64;
                let a = rng.random::<f64>() * 2.0 * PI;
                [r * a.cos() + 0.08 * normal(rng), r * a.sin() + 0.08 * normal(rng)]
            }
            ToyDensity::Checkerboard => {
                let x1 = rng.random::<f64>() * 4.0 - 2.0;
                let lower = if rng.random::<bool>() { 2.0 } else { 0.0 };
                let x2 = rng.random::<f64>() - lower + x1.floor().rem_euclid(2.0);
                [2.0 * x1, 2.0 * x2]
            }
            ToyDensity::SwissRoll => {
                let t = 1.5 * PI * (1.0 + 2.0 * rng.random::<f64>());
                let x = t * t.cos() + normal(rng);
                let y = t * t.sin() + normal(rng);
                [x / 5.0, y / 5.0]
            }
            ToyDensity::Pinwheel => {
                let class = rng.random_range(0..5u32) as f64;
                let f0 = 1.0 + 0.3 * normal(rng);
                let f1 = 0.1 * normal(rng);
                let a = 2.0 * PI * class / 5.0 + 0.25 * f0.exp();
                let (s, c) = a.sin_cos();
                [2.0 * (f0 * c + f1 * s), 2.0 * (-f0 * s + f1 * c)]
            }
            ToyDensity::TwoSpirals => {
                let r = rng.random::<f64>().sqrt() * 3.0 * PI;
                let x = -r.cos() * r + 0.5 * rng.random::<f64>();
                let y = r.sin() * r + 0.5 * rng.random::<f64>();
                let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                [sign * x / 3.0 + 0.1 * normal(rng), sign * y / 3.0 + 0.1 * normal(rng)]
            }
        }
    }
}

fn checkerboard_log_density(x: f64, y: f64) -> f64 {
    let inside = (-4.0..4.0).contains(&x) && (-4.0..4.0).contains(&y);
    // Cells are 2 wide; a cell is in the support when its index sum is even.
    if inside && ((x / 2.0).floor() + (y / 2.0).floor()).rem_euclid(2.0) == 0.0 {
        -(32.0f64).ln()
    } else {
        f64::NEG_INFINITY
    }
}

impl fmt::Display for ToyDensity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ToyDensity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ToyDensity::from_name(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_valid_names() {
        for &t in ToyDensity::all() {
            assert_eq!(ToyDensity::from_name(t.name()).unwrap(), t);
            assert_eq!(t.to_string().parse::<ToyDensity>().unwrap(), t);
        }
        assert_eq!(ToyDensity::from_name("8gaussians").unwrap(), ToyDensity::EightGaussians);
        assert_eq!(ToyDensity::from_name("Swiss_Roll").unwrap(), ToyDensity::SwissRoll);
        let msg = ToyDensity::from_name("banana").unwrap_err().to_string();
        assert!(msg.contains("banana") && msg.contains("two-spirals"), "{msg}");
        assert_eq!(datasets_table().len(), ToyDensity::all().len());
    }

    #[test]
    fn samplers_are_seeded_finite_and_in_range() {
        for &t in ToyDensity::all() {
            let a = t.sample_seeded(2000, 11);
            assert_eq!((a.n(), a.d()), (2000, 2));
            assert_eq!(a, t.sample_seeded(2000, 11), "{t}");
            assert_ne!(a, t.sample_seeded(2000, 12), "{t}");
            assert!(a.data().iter().all(|v| v.is_finite()));
            let inside = a.data().iter().filter(|v| v.abs() <= 4.5).count();
            assert!(inside as f64 > 0.99 * 4000.0, "{t}: {inside}");
        }
    }

    #[test]
    fn eight_gaussians_density_is_exact_mixture() {
        let t = ToyDensity::EightGaussians;
        let x = [2.0, 2.0];
        let s2 = EIGHT_SIGMA * EIGHT_SIGMA;
        let p: f64 = (0..8)
            .map(|k| {
                let a = k as f64 * std::f64::consts::FRAC_PI_4;
                let (cx, cy) = (EIGHT_RADIUS * a.cos(), EIGHT_RADIUS * a.sin());
                let q = (x[0] - cx).powi(2) + (x[1] - cy).powi(2);
                (-q / (2.0 * s2)).exp() / (2.0 * std::f64::consts::PI * s2) / 8.0
            })
            .sum();
        assert!((t.log_density(&x).unwrap() - p.ln()).abs() < 1e-12);
        // At a centre the score is almost exactly zero (the others are far away).
        let s = t.score(&[EIGHT_RADIUS, 0.0]).unwrap();
        assert!(s[0].abs() < 1e-6 && s[1].abs() < 1e-6, "{s:?}");
        // Sample mean radius of the samples ≈ 2√2 (σ is small).
        let d = t.sample_seeded(5000, 1);
        let mean_r: f64 = d.rows().map(|r| r[0].hypot(r[1])).sum::<f64>() / 5000.0;
        assert!((mean_r - EIGHT_RADIUS).abs() < 0.05, "{mean_r}");
        assert!(t.log_density(&[1.0]).is_none());
        assert!(ToyDensity::TwoMoons.log_density(&x).is_none());
        assert!(ToyDensity::TwoMoons.score(&x).is_none());
    }

    #[test]
    fn checkerboard_samples_lie_on_support() {
        let t = ToyDensity::Checkerboard;
        let d = t.sample_seeded(4000, 5);
        for r in d.rows() {
            assert_eq!(t.log_density(r).unwrap(), -(32.0f64).ln(), "{r:?}");
        }
        assert_eq!(t.log_density(&[1.0, -1.0]).unwrap(), f64::NEG_INFINITY);
        assert_eq!(t.log_density(&[5.0, 5.0]).unwrap(), f64::NEG_INFINITY);
        assert!(t.score(&[1.0, 1.0]).is_none());
        // The support has area 32: grid integral of the density is 1.
        let h = 0.05;
        let mut total = 0.0;
        for i in 0..200 {
            for j in 0..200 {
                let x = [-5.0 + (i as f64 + 0.5) * h, -5.0 + (j as f64 + 0.5) * h];
                total += t.log_density(&x).unwrap().exp() * h * h;
            }
        }
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn gaussian_toy_has_its_documented_moments() {
        let m = ToyDensity::Gaussian.true_model().unwrap();
        assert_eq!(m.mean(), vec![0.5, -0.5]);
        for (c, e) in m.covariance().iter().zip([1.5, 1.2, 1.2, 1.5]) {
            assert!((c - e).abs() < 1e-12);
        }
        assert!(ToyDensity::Pinwheel.true_model().is_none());
    }
}
