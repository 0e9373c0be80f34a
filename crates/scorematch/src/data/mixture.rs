//! A D-dimensional mixture of full-covariance Gaussians with exact log-density and score.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

use super::dataset::{Dataset, default_columns};
use super::linalg::{
    cholesky, log_det_from_cholesky, solve_lower_in_place, solve_lower_transpose_in_place,
};
use crate::{Error, Result};

/// `p(x) = Σₖ wₖ · N(x; μₖ, Σₖ)` in D dimensions.
///
/// - log-density: `log p(x) = logsumexpₖ [ log wₖ − ½ D log 2π − ½ log det Σₖ
///   − ½ (x−μₖ)ᵀ Σₖ⁻¹ (x−μₖ) ]`
/// - score: `∇ₓ log p(x) = −Σₖ rₖ(x) Σₖ⁻¹ (x − μₖ)` with responsibilities
///   `rₖ(x) = wₖ N(x; μₖ, Σₖ) / p(x)`.
///
/// Each covariance is factored once (Cholesky, `Σₖ = Lₖ Lₖᵀ`); sampling is
/// `x = μₖ + Lₖ z`, `z ~ N(0, I)`, with `k` drawn from the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    d: usize,
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    covariances: Vec<Vec<f64>>,
    // Derived: Cholesky factors, log weights, per-component log normaliser.
    chol: Vec<Vec<f64>>,
    log_norm: Vec<f64>,
}

impl GaussianMixture {
    /// A mixture from weights (positive, normalised here to sum to 1), means (`K` vectors of
    /// length `D ≥ 1`) and full covariances (`K` row-major `D × D` matrices, symmetric positive
    /// definite).
    pub fn new(
        weights: Vec<f64>,
        means: Vec<Vec<f64>>,
        covariances: Vec<Vec<f64>>,
    ) -> Result<Self> {
        let k = weights.len();
        if k == 0 {
            return Err(Error::InvalidArgument(
                "a Gaussian mixture needs at least one component".into(),
            ));
        }
        if means.len() != k || covariances.len() != k {
            return Err(Error::Shape(format!(
                "Gaussian mixture: {k} weights but {} means and {} covariances",
                means.len(),
                covariances.len()
            )));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "Gaussian mixture weights must be finite and > 0, got {w}"
            )));
        }
        let d = means[0].len();
        if d == 0 {
            return Err(Error::Shape("Gaussian mixture means have dimension 0".into()));
        }
        let total: f64 = weights.iter().sum();
        let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let mut chol = Vec::with_capacity(k);
        let mut log_norm = Vec::with_capacity(k);
        for c in 0..k {
            let (m, cov) = (&means[c], &covariances[c]);
            if m.len() != d || cov.len() != d * d {
                return Err(Error::Shape(format!(
                    "Gaussian mixture component {c}: mean has {} values and covariance {} \
                     values; expected {d} and {d}×{d} = {}",
                    m.len(),
                    cov.len(),
                    d * d
                )));
            }
            if m.iter().chain(cov.iter()).any(|v| !v.is_finite()) {
                return Err(Error::NonFinite(format!(
                    "Gaussian mixture component {c} has a non-finite mean or covariance entry"
                )));
            }
            for i in 0..d {
                for j in 0..i {
                    let (a, b) = (cov[i * d + j], cov[j * d + i]);
                    if (a - b).abs() > 1e-9 * (1.0 + a.abs() + b.abs()) {
                        return Err(Error::InvalidArgument(format!(
                            "Gaussian mixture component {c}: covariance is not symmetric \
                             ([{i},{j}] = {a}, [{j},{i}] = {b})"
                        )));
                    }
                }
            }
            let l = cholesky(cov, d).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "Gaussian mixture component {c}: covariance is not positive definite"
                ))
            })?;
            let ln2pi = (2.0 * std::f64::consts::PI).ln();
            log_norm.push(
                weights[c].ln() - 0.5 * d as f64 * ln2pi - 0.5 * log_det_from_cholesky(&l, d),
            );
            chol.push(l);
        }
        Ok(GaussianMixture { d, weights, means, covariances, chol, log_norm })
    }

    /// A single Gaussian `N(mean, covariance)`.
    pub fn gaussian(mean: Vec<f64>, covariance: Vec<f64>) -> Result<Self> {
        Self::new(vec![1.0], vec![mean], vec![covariance])
    }

    /// Equally weighted isotropic components `N(μₖ, σ² I)`.
    pub fn isotropic(means: Vec<Vec<f64>>, sigma: f64) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "component standard deviation must be finite and > 0, got {sigma}"
            )));
        }
        let d = means.first().map_or(0, Vec::len);
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            cov[i * d + i] = sigma * sigma;
        }
        let k = means.len();
        Self::new(vec![1.0; k], means, vec![cov; k])
    }

    /// Dimension D.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Normalised weights (sum to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// Component covariances, row-major `D × D`.
    pub fn covariances(&self) -> &[Vec<f64>] {
        &self.covariances
    }

    /// The mixture's mean `Σₖ wₖ μₖ`.
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.d];
        for (w, mu) in self.weights.iter().zip(&self.means) {
            for (mi, &v) in m.iter_mut().zip(mu) {
                *mi += w * v;
            }
        }
        m
    }

    /// The mixture's covariance `Σₖ wₖ (Σₖ + μₖμₖᵀ) − m mᵀ`, row-major.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.d;
        let m = self.mean();
        let mut c = vec![0.0; d * d];
        for ((w, mu), cov) in self.weights.iter().zip(&self.means).zip(&self.covariances) {
            for i in 0..d {
                for j in 0..d {
                    c[i * d + j] += w * (cov[i * d + j] + mu[i] * mu[j]);
                }
            }
        }
        for i in 0..d {
            for j in 0..d {
                c[i * d + j] -= m[i] * m[j];
            }
        }
        c
    }

    fn check_dim(&self, x: &[f64]) -> Result<()> {
        if x.len() != self.d {
            return Err(Error::Shape(format!(
                "Gaussian mixture of dimension {} evaluated at a point of dimension {}",
                self.d,
                x.len()
            )));
        }
        Ok(())
    }

    /// Per-component log terms `log wₖ + log N(x; μₖ, Σₖ)` into `logs`, and the whitened
    /// residual `Σₖ⁻¹(x − μₖ)` of each component into `solved` (K·D values).
    fn component_terms(&self, x: &[f64], logs: &mut [f64], solved: &mut [f64]) {
        let d = self.d;
        for c in 0..self.weights.len() {
            let y = &mut solved[c * d..(c + 1) * d];
            for ((yi, xi), mi) in y.iter_mut().zip(x).zip(&self.means[c]) {
                *yi = xi - mi;
            }
            solve_lower_in_place(&self.chol[c], d, y);
            let q: f64 = y.iter().map(|v| v * v).sum();
            logs[c] = self.log_norm[c] - 0.5 * q;
            solve_lower_transpose_in_place(&self.chol[c], d, y);
        }
    }

    /// Log-density and score at `x` together (one pass over the components).
    pub fn log_density_and_score(&self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.check_dim(x)?;
        let (k, d) = (self.weights.len(), self.d);
        let mut logs = vec![0.0; k];
        let mut solved = vec![0.0; k * d];
        self.component_terms(x, &mut logs, &mut solved);
        let mx = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut score = vec![0.0; d];
        if !mx.is_finite() {
            // Every component underflowed (x astronomically far away): the log-density is
            // −∞ in f64 and the score is dominated by the nearest component; fall back to it.
            let best = (0..k)
                .min_by(|&a, &b| {
                    let na: f64 = solved[a * d..(a + 1) * d].iter().map(|v| v * v).sum();
                    let nb: f64 = solved[b * d..(b + 1) * d].iter().map(|v| v * v).sum();
                    na.total_cmp(&nb)
                })
                .unwrap_or(0);
            for (s, v) in score.iter_mut().zip(&solved[best * d..(best + 1) * d]) {
                *s = -v;
            }
            return Ok((mx, score));
        }
        let sum: f64 = logs.iter().map(|l| (l - mx).exp()).sum();
        let lse = mx + sum.ln();
        for c in 0..k {
            let r = (logs[c] - lse).exp();
            for (s, v) in score.iter_mut().zip(&solved[c * d..(c + 1) * d]) {
                *s -= r * v;
            }
        }
        Ok((lse, score))
    }

    /// `log p(x)`; errors when `x.len() != dim()`.
    pub fn log_density(&self, x: &[f64]) -> Result<f64> {
        self.log_density_and_score(x).map(|(l, _)| l)
    }

    /// The score `∇ₓ log p(x)`; errors when `x.len() != dim()`.
    pub fn score(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.log_density_and_score(x).map(|(_, s)| s)
    }

    /// `log p` at each row of the row-major `n × D` array `x`.
    pub fn log_density_batch(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_batch(x)?;
        x.chunks_exact(self.d).map(|r| self.log_density(r)).collect()
    }

    /// Scores at each row of the row-major `n × D` array `x`, row-major `n × D`.
    pub fn score_batch(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_batch(x)?;
        let mut out = Vec::with_capacity(x.len());
        for r in x.chunks_exact(self.d) {
            out.extend(self.score(r)?);
        }
        Ok(out)
    }

    fn check_batch(&self, x: &[f64]) -> Result<()> {
        if !x.len().is_multiple_of(self.d) {
            return Err(Error::Shape(format!(
                "batch of {} values is not a whole number of rows of dimension {}",
                x.len(),
                self.d
            )));
        }
        Ok(())
    }

    /// Draws `n` samples (component `k` with probability `wₖ`, then `μₖ + Lₖ z`).
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Dataset {
        let d = self.d;
        let mut data = vec![0.0; n * d];
        let mut z = vec![0.0; d];
        for row in data.chunks_exact_mut(d) {
            let c = self.pick_component(rng.random::<f64>());
            self.sample_component_into(c, rng, &mut z, row);
        }
        Dataset::from_parts(n, d, data, default_columns(d))
    }

    /// The component index whose cumulative-weight interval contains `u ∈ [0, 1)`.
    pub(crate) fn pick_component(&self, u: f64) -> usize {
        let mut acc = 0.0;
        for (c, w) in self.weights.iter().enumerate() {
            acc += w;
            if u < acc {
                return c;
            }
        }
        self.weights.len() - 1
    }

    /// Writes one draw of component `c` into `out` (`z` is D scratch values).
    pub(crate) fn sample_component_into<R: Rng + ?Sized>(
        &self,
        c: usize,
        rng: &mut R,
        z: &mut [f64],
        out: &mut [f64],
    ) {
        let d = self.d;
        for zi in z.iter_mut() {
            *zi = StandardNormal.sample(rng);
        }
        let l = &self.chol[c];
        for i in 0..d {
            let lz: f64 = (0..=i).map(|k| l[i * d + k] * z[k]).sum();
            out[i] = self.means[c][i] + lz;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn two_component() -> GaussianMixture {
        GaussianMixture::new(
            vec![1.0, 3.0],
            vec![vec![1.0, -1.0], vec![-2.0, 0.5]],
            vec![vec![1.0, 0.3, 0.3, 0.5], vec![0.7, -0.2, -0.2, 1.2]],
        )
        .unwrap()
    }

    #[test]
    fn single_gaussian_matches_closed_form() {
        // N(μ, Σ), Σ = [[2, 0.6], [0.6, 1]], det = 1.64, Σ⁻¹ = [[1, -0.6], [-0.6, 2]] / 1.64
        let g = GaussianMixture::gaussian(vec![0.5, -0.5], vec![2.0, 0.6, 0.6, 1.0]).unwrap();
        let x = [1.5, 0.25];
        let r = [1.0, 0.75];
        let sr = [(r[0] - 0.6 * r[1]) / 1.64, (-0.6 * r[0] + 2.0 * r[1]) / 1.64];
        let q = r[0] * sr[0] + r[1] * sr[1];
        let expected = -(2.0 * std::f64::consts::PI).ln() - 0.5 * 1.64f64.ln() - 0.5 * q;
        let (lp, s) = g.log_density_and_score(&x).unwrap();
        assert!((lp - expected).abs() < 1e-12, "{lp} vs {expected}");
        assert!((s[0] + sr[0]).abs() < 1e-12 && (s[1] + sr[1]).abs() < 1e-12);
    }

    #[test]
    fn score_is_gradient_of_log_density() {
        let g = two_component();
        assert_eq!(g.weights(), &[0.25, 0.75]);
        for x in [[0.3, -0.2], [-1.0, 2.0], [4.0, -3.0]] {
            let s = g.score(&x).unwrap();
            for j in 0..2 {
                let h = 1e-5;
                let (mut xp, mut xm) = (x, x);
                xp[j] += h;
                xm[j] -= h;
                let fd = (g.log_density(&xp).unwrap() - g.log_density(&xm).unwrap()) / (2.0 * h);
                assert!((fd - s[j]).abs() < 1e-7, "{fd} vs {}", s[j]);
            }
        }
    }

    #[test]
    fn density_integrates_to_one_on_a_grid() {
        let g = two_component();
        let (lo, hi, m) = (-9.0, 8.0, 400);
        let h = (hi - lo) / m as f64;
        let mut total = 0.0;
        for i in 0..m {
            for j in 0..m {
                let x = [lo + (i as f64 + 0.5) * h, lo + (j as f64 + 0.5) * h];
                total += g.log_density(&x).unwrap().exp() * h * h;
            }
        }
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn samples_match_moments() {
        let g = two_component();
        let ds = g.sample(40_000, &mut StdRng::seed_from_u64(3));
        let (m, c) = (g.mean(), g.covariance());
        let n = ds.n() as f64;
        let mut em = [0.0; 2];
        for r in ds.rows() {
            em[0] += r[0] / n;
            em[1] += r[1] / n;
        }
        let mut ec = [0.0; 4];
        for r in ds.rows() {
            for i in 0..2 {
                for j in 0..2 {
                    ec[i * 2 + j] += (r[i] - em[i]) * (r[j] - em[j]) / n;
                }
            }
        }
        for i in 0..2 {
            assert!((em[i] - m[i]).abs() < 0.03, "{em:?} {m:?}");
        }
        for i in 0..4 {
            assert!((ec[i] - c[i]).abs() < 0.06, "{ec:?} {c:?}");
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(GaussianMixture::new(vec![], vec![], vec![]).is_err());
        assert!(GaussianMixture::gaussian(vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]).is_err());
        assert!(GaussianMixture::gaussian(vec![0.0, 0.0], vec![1.0, 0.5, 0.0, 1.0]).is_err());
        assert!(GaussianMixture::gaussian(vec![0.0, 0.0], vec![1.0, 0.0, 0.0]).is_err());
        assert!(GaussianMixture::new(vec![-1.0], vec![vec![0.0]], vec![vec![1.0]]).is_err());
        assert!(GaussianMixture::isotropic(vec![vec![0.0]], 0.0).is_err());
        let g = two_component();
        assert!(g.log_density(&[0.0]).is_err());
        assert!(g.score_batch(&[0.0, 1.0, 2.0]).is_err());
        assert_eq!(g.log_density_batch(&[0.0; 4]).unwrap().len(), 2);
    }

    #[test]
    fn far_away_points_stay_finite_in_score() {
        let g = two_component();
        let (lp, s) = g.log_density_and_score(&[1e200, 0.0]).unwrap();
        assert!(lp == f64::NEG_INFINITY || lp.is_nan() || lp < -1e10);
        assert!(s.iter().all(|v| !v.is_nan()));
    }
}
