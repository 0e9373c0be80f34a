//! PCA whitening: z = (x − μ)·W with W = V Λ^{−1/2}, where C = V Λ Vᵀ is the covariance
//! (divisor n) of the rows it is fitted on, so that those rows have mean 0 and identity
//! covariance. This is the DKEF papers' preprocessing of the UCI data (the official
//! `apply_whiten` with ε = 0: W = V/s·√n from the SVD of the centred rows, the same map).
//! Unlike [`super::Standardizer`], it rotates, so it carries no per-column maps back to
//! raw coordinates; it is a preprocessing step for experiments, not a run's data map.

use serde::Serialize;

use super::Dataset;
use super::linalg::symmetric_eigen;
use crate::error::{Error, Result};

/// A fitted PCA whitening map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Whitening {
    /// Column means μ of the fitted rows.
    pub mean: Vec<f64>,
    /// W (d × d, row-major): z = (x − μ)·W.
    pub matrix: Vec<f64>,
}

impl Whitening {
    /// Fits the map on `data`'s rows. Errors with fewer than two rows, or when the
    /// covariance is singular (a constant column or collinear columns).
    pub fn fit(data: &Dataset) -> Result<Self> {
        let (n, d) = (data.n(), data.d());
        if n < 2 {
            return Err(Error::InvalidArgument("whitening needs at least 2 rows".into()));
        }
        let (mean, cov) = data.mean_and_covariance(0);
        let (lambda, v) = symmetric_eigen(&cov, d);
        let largest = lambda.iter().copied().fold(0.0, f64::max);
        if let Some(k) = lambda.iter().position(|l| l.is_nan() || *l <= 1e-12 * largest) {
            return Err(Error::InvalidArgument(format!(
                "the covariance of the rows to whiten is singular (eigenvalue {:e}): drop \
                 constant or collinear columns first",
                lambda[k]
            )));
        }
        let matrix = (0..d * d).map(|i| v[i] / lambda[i % d].sqrt()).collect();
        Ok(Self { mean, matrix })
    }

    /// `data` mapped by z = (x − μ)·W. Errors when the columns do not match.
    pub fn apply(&self, data: &Dataset) -> Result<Dataset> {
        let d = self.mean.len();
        if data.d() != d {
            return Err(Error::Shape(format!(
                "data has {} columns but the whitening was fitted on {d}",
                data.d()
            )));
        }
        let mut out = Vec::with_capacity(data.n() * d);
        for r in data.rows() {
            out.extend((0..d).map(|j| {
                (0..d).map(|i| (r[i] - self.mean[i]) * self.matrix[i * d + j]).sum::<f64>()
            }));
        }
        Dataset::new(data.n(), d, out, data.columns().to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn whitened_rows_have_zero_mean_and_identity_covariance() {
        // Correlated 3-D rows with different scales.
        let n = 50;
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let (a, b, c) = ((i as f64 * 0.37).sin(), (i as f64 * 1.3).cos(), (i % 7) as f64);
                vec![10.0 * a + 2.0, a + 0.5 * b, 0.1 * c - 3.0 * b]
            })
            .collect();
        let data = Dataset::from_rows(&rows).unwrap();
        let w = Whitening::fit(&data).unwrap();
        let z = w.apply(&data).unwrap();
        for i in 0..3 {
            let mean: f64 = z.rows().map(|r| r[i]).sum::<f64>() / n as f64;
            assert!(mean.abs() < 1e-10, "mean {i}: {mean}");
            for j in 0..3 {
                let c: f64 = z.rows().map(|r| r[i] * r[j]).sum::<f64>() / n as f64;
                assert!((c - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "cov {i}{j}: {c}");
            }
        }
        let constant = Dataset::from_rows(&[vec![1.0, 2.0], vec![1.0, 3.0]]).unwrap();
        assert!(Whitening::fit(&constant).is_err());
    }
}
