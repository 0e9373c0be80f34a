//! Kernel Stein discrepancy with the inverse multi-quadric kernel (Gorham & Mackey 2017).
//!
//! With k(x, y) = (c² + ‖x − y‖²)^β, β ∈ (−1, 0), write u = c² + r², r = x − y. Then
//!
//! - ∇ₓk = 2β u^(β−1) r, ∇_y k = −2β u^(β−1) r,
//! - tr ∇ₓ∇_y k = −2βD u^(β−1) − 4β(β−1) u^(β−2) ‖r‖²,
//!
//! and the Stein kernel u_p(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇ₓk + tr ∇ₓ∇_y k is
//!
//! u_p(x, y) = s(x)ᵀs(y) u^β + 2β u^(β−1) (s(y) − s(x))ᵀr − 2βD u^(β−1) − 4β(β−1) u^(β−2) ‖r‖².
//!
//! KSD² = E_{x,y ~ q} u_p(x, y) is zero iff q = p (for IMQ with β ∈ (−1, 0)); it is
//! estimated by the U-statistic 1/(n(n−1)) Σ_{i≠j} u_p(xᵢ, xⱼ), which is unbiased and can
//! be slightly negative. Cost O(n²D): at most `max_samples` (default 2000) rows are used,
//! a seeded random subset when there are more.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sample::ScoreFn;

/// KSD settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KsdConfig {
    /// At most this many rows (random subset beyond), since the cost is O(n²).
    pub max_samples: usize,
    /// Seed of the subset.
    pub seed: u64,
    /// Kernel scale c > 0.
    pub c: f64,
    /// Kernel exponent β ∈ (−1, 0).
    pub beta: f64,
}

impl Default for KsdConfig {
    fn default() -> Self {
        Self { max_samples: 2000, seed: 0, c: 1.0, beta: -0.5 }
    }
}

/// A KSD² estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KsdEstimate {
    /// The U-statistic estimate of KSD².
    pub ksd2: f64,
    /// Its standard error 2·sd(gᵢ)/√n, gᵢ the mean of u_p(xᵢ, ·) over the others (valid
    /// when KSD² > 0; at a perfect fit the fluctuations are O(1/n) instead).
    pub std_err: f64,
    /// Rows used.
    pub n: usize,
}

/// KSD² between the model of `field` (through its score) and the rows of `samples`
/// (model coordinates, row-major).
pub fn ksd(field: &mut dyn ScoreFn, samples: &[f64], config: &KsdConfig) -> Result<KsdEstimate> {
    let d = field.dim();
    if d == 0 || !samples.len().is_multiple_of(d) {
        return Err(Error::Shape(format!(
            "{} values are not whole rows of dimension {d}",
            samples.len()
        )));
    }
    if config.max_samples < 2 {
        return Err(Error::InvalidArgument("KSD needs max_samples ≥ 2".into()));
    }
    let n = samples.len() / d;
    let x: Vec<f64> = if n > config.max_samples {
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(config.seed));
        idx[..config.max_samples]
            .iter()
            .flat_map(|&i| &samples[i * d..(i + 1) * d])
            .copied()
            .collect()
    } else {
        samples.to_vec()
    };
    let mut s = vec![0.0; x.len()];
    field.score(&x, None, &mut s)?;
    ksd_from_scores(&x, &s, d, config.c, config.beta)
}

/// KSD² from rows `x` and their scores `scores` (both row-major, dimension `dim`), with the
/// IMQ kernel (c, β); see the module documentation for the formula.
pub fn ksd_from_scores(
    x: &[f64],
    scores: &[f64],
    dim: usize,
    c: f64,
    beta: f64,
) -> Result<KsdEstimate> {
    let valid = c > 0.0 && c.is_finite() && beta > -1.0 && beta < 0.0;
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "IMQ kernel needs c > 0 and −1 < β < 0 (got c = {c}, β = {beta})"
        )));
    }
    if dim == 0 || !x.len().is_multiple_of(dim) || scores.len() != x.len() {
        return Err(Error::Shape(format!(
            "KSD: {} sample values and {} score values for dimension {dim}",
            x.len(),
            scores.len()
        )));
    }
    let n = x.len() / dim;
    if n < 2 {
        return Err(Error::InvalidArgument("KSD needs at least 2 samples".into()));
    }
    if x.iter().chain(scores).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("KSD: a sample or score is NaN or Inf".into()));
    }
    let (c2, df) = (c * c, dim as f64);
    let mut row_sums = vec![0.0; n];
    let mut total = 0.0;
    for i in 0..n {
        let (xi, si) = (&x[i * dim..(i + 1) * dim], &scores[i * dim..(i + 1) * dim]);
        for j in i + 1..n {
            let (xj, sj) = (&x[j * dim..(j + 1) * dim], &scores[j * dim..(j + 1) * dim]);
            let (mut r2, mut ss, mut cross) = (0.0, 0.0, 0.0);
            for k in 0..dim {
                let r = xi[k] - xj[k];
                r2 += r * r;
                ss += si[k] * sj[k];
                cross += (sj[k] - si[k]) * r;
            }
            let u = c2 + r2;
            let k0 = u.powf(beta);
            let k1 = k0 / u;
            let k2 = k1 / u;
            let up = ss * k0 + 2.0 * beta * k1 * cross
                - 2.0 * beta * df * k1
                - 4.0 * beta * (beta - 1.0) * k2 * r2;
            total += up;
            row_sums[i] += up;
            row_sums[j] += up;
        }
    }
    let ksd2 = 2.0 * total / (n as f64 * (n - 1) as f64);
    let g: Vec<f64> = row_sums.iter().map(|r| r / (n - 1) as f64).collect();
    let (_, se_g) = super::mean_and_std_err(&g);
    Ok(KsdEstimate { ksd2, std_err: 2.0 * se_g, n })
}
