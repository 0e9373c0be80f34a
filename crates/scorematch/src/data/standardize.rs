//! Per-column standardisation and the maps between raw and standardised coordinates.
//!
//! `z = (x − μ) / s` elementwise. A model fitted on `z` gives a density on `x` by the change
//! of variables `p_x(x) = p_z(z) · Πᵢ 1/sᵢ`, hence
//!
//! - `log p_raw(x) = log p_std(z) − Σᵢ log sᵢ`
//! - `energy_raw(x) = energy_std(z) + Σᵢ log sᵢ` (for `p ∝ exp(−energy)`)
//! - `score_raw(x) = ∇ₓ log p_raw(x) = score_std(z) / s` elementwise (chain rule, `∂z/∂x = 1/s`)

use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use super::rows::Rows;
use crate::comm::{Communicator, SingleProcess, failures, part};
use crate::{Error, Result};

/// A column whose standard deviation is at most `STD_FLOOR_RELATIVE · max(1, |mean|)` is
/// treated as constant and gets `std = 1` (it is only centred), as scikit-learn's
/// `StandardScaler` does; this avoids dividing by zero or by rounding noise.
pub const STD_FLOOR_RELATIVE: f64 = 1e-12;

/// Per-column mean and standard deviation; serialisable so it can be stored with a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means μ.
    pub mean: Vec<f64>,
    /// Column scales s (population standard deviation, floored; see [`STD_FLOOR_RELATIVE`]).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits mean and population standard deviation (divisor n) of each column.
    ///
    /// Errors on an empty dataset or non-finite values.
    pub fn fit(data: &Dataset) -> Result<Self> {
        Self::fit_in(&SingleProcess, data)
    }

    /// [`Standardizer::fit`] on rows shared by the ranks of `comm`, each reading only its
    /// part ([`part`]`(n, rank, N)`) in blocks: the column sums Σx are summed over the ranks
    /// (in rank order, [`Communicator::sum_f64`]), giving μ; then the sums Σ(x − μ)², giving
    /// s. Collective: every rank calls it with the same `rows`, and all get the same map; a
    /// rank that cannot read its rows makes every rank fail, naming it. On one process the
    /// sums run over the rows in order, as a plain loop would.
    pub fn fit_in(comm: &dyn Communicator, rows: &dyn Rows) -> Result<Self> {
        let (n, d) = (rows.n(), rows.d());
        if n == 0 {
            return Err(Error::InvalidArgument(
                "cannot fit a standardizer on an empty dataset".into(),
            ));
        }
        let mine = part(n, comm.rank(), comm.size());
        let mut mean = column_sums(comm, rows, mine.clone(), d, |_, v| v)?;
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let var = column_sums(comm, rows, mine, d, |j, v| (v - mean[j]) * (v - mean[j]))?;
        let std: Vec<f64> = var
            .iter()
            .zip(&mean)
            .map(|(v, m)| {
                let s = (v / n as f64).sqrt();
                if s <= STD_FLOOR_RELATIVE * m.abs().max(1.0) { 1.0 } else { s }
            })
            .collect();
        let st = Standardizer { mean, std };
        st.validate()?;
        Ok(st)
    }

    /// The identity map in `d` dimensions (mean 0, std 1).
    pub fn identity(d: usize) -> Self {
        Standardizer { mean: vec![0.0; d], std: vec![1.0; d] }
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Checks that `mean` and `std` have equal length, are finite, and `std > 0` (e.g. after
    /// deserialising one from a checkpoint).
    pub fn validate(&self) -> Result<()> {
        if self.mean.len() != self.std.len() {
            return Err(Error::Shape(format!(
                "standardizer has {} means but {} standard deviations",
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::NonFinite("standardizer mean is not finite".into()));
        }
        if let Some(s) = self.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "standardizer std must be finite and > 0, got {s}"
            )));
        }
        Ok(())
    }

    fn check(&self, what: &str, len: usize) -> Result<()> {
        let d = self.dim();
        if d == 0 || !len.is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{what}: {len} values are not whole rows of the standardizer's dimension {d}"
            )));
        }
        Ok(())
    }

    /// `z = (x − μ)/s` in place on row-major rows (`x.len()` a multiple of `dim()`).
    pub fn transform_in_place(&self, x: &mut [f64]) -> Result<()> {
        self.check("transform", x.len())?;
        for r in x.chunks_exact_mut(self.dim()) {
            for ((v, m), s) in r.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }

    /// `x = μ + s·z` in place on row-major rows.
    pub fn inverse_transform_in_place(&self, z: &mut [f64]) -> Result<()> {
        self.check("inverse transform", z.len())?;
        for r in z.chunks_exact_mut(self.dim()) {
            for ((v, m), s) in r.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = m + s * *v;
            }
        }
        Ok(())
    }

    /// A standardised copy of `data` (same column names).
    pub fn transform(&self, data: &Dataset) -> Result<Dataset> {
        self.check_dataset(data)?;
        let mut out = data.clone();
        self.transform_in_place(out.data_mut())?;
        Ok(out)
    }

    /// A raw-coordinates copy of standardised `data`.
    pub fn inverse_transform(&self, data: &Dataset) -> Result<Dataset> {
        self.check_dataset(data)?;
        let mut out = data.clone();
        self.inverse_transform_in_place(out.data_mut())?;
        Ok(out)
    }

    fn check_dataset(&self, data: &Dataset) -> Result<()> {
        if data.d() != self.dim() {
            return Err(Error::Shape(format!(
                "data has {} columns but the standardizer was fitted on {}",
                data.d(),
                self.dim()
            )));
        }
        Ok(())
    }

    /// `Σᵢ log sᵢ`, the log-determinant of the map `z ↦ x`.
    pub fn log_det(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }

    /// `log p_raw(x) = log p_std(z) − Σᵢ log sᵢ`.
    pub fn log_density_to_raw(&self, log_p_std: f64) -> f64 {
        log_p_std - self.log_det()
    }

    /// `energy_raw(x) = energy_std(z) + Σᵢ log sᵢ` for a normalised energy `−log p`
    /// (for an unnormalised energy the shift only moves the unknown constant).
    pub fn energy_to_raw(&self, energy_std: f64) -> f64 {
        energy_std + self.log_det()
    }

    /// `score_raw = score_std / s` elementwise, in place on row-major rows.
    pub fn score_to_raw_in_place(&self, score: &mut [f64]) -> Result<()> {
        self.check("score to raw", score.len())?;
        for r in score.chunks_exact_mut(self.dim()) {
            for (v, s) in r.iter_mut().zip(&self.std) {
                *v /= s;
            }
        }
        Ok(())
    }

    /// `score_std = score_raw · s` elementwise, in place (the inverse of
    /// [`Standardizer::score_to_raw_in_place`]).
    pub fn score_to_std_in_place(&self, score: &mut [f64]) -> Result<()> {
        self.check("score to standardized", score.len())?;
        for r in score.chunks_exact_mut(self.dim()) {
            for (v, s) in r.iter_mut().zip(&self.std) {
                *v *= s;
            }
        }
        Ok(())
    }
}

/// Rows read per block by [`column_sums`].
const SUM_BLOCK: usize = 4096;

/// Σ f(j, x_j) per column j over the rows `mine` of `rows`, summed over the ranks of `comm`
/// (see [`Standardizer::fit_in`]).
fn column_sums(
    comm: &dyn Communicator,
    rows: &dyn Rows,
    mine: std::ops::Range<usize>,
    d: usize,
    f: impl Fn(usize, f64) -> f64,
) -> Result<Vec<f64>> {
    let local = (|| {
        let mut sums = vec![0.0; d];
        let mut block = Vec::new();
        for start in mine.clone().step_by(SUM_BLOCK) {
            let indices: Vec<usize> = (start..(start + SUM_BLOCK).min(mine.end)).collect();
            block.resize(indices.len() * d, 0.0);
            rows.read(&indices, &mut block)?;
            for r in block.chunks_exact(d) {
                for (j, (s, &v)) in sums.iter_mut().zip(r).enumerate() {
                    *s += f(j, v);
                }
            }
        }
        Ok(sums)
    })();
    // One sum: a failure flag per rank, then the column sums.
    let size = comm.size();
    let mut all = vec![0.0; size + d];
    match &local {
        Ok(sums) => all[size..].copy_from_slice(sums),
        Err(_) => all[comm.rank()] = 1.0,
    }
    comm.sum_f64(&mut all);
    failures(comm, &all[..size], local)?;
    Ok(all.split_off(size))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::GaussianMixture;

    #[test]
    fn fit_transform_inverse() {
        let d = Dataset::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0], vec![5.0, 5.0]]).unwrap();
        let st = Standardizer::fit(&d).unwrap();
        assert_eq!(st.mean, vec![3.0, 5.0]);
        assert!((st.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(st.std[1], 1.0); // constant column: floored to 1
        let z = st.transform(&d).unwrap();
        assert!((z.row(0)[0] + 3.0f64.sqrt() / 2.0f64.sqrt()).abs() < 1e-12);
        assert_eq!(z.row(2)[1], 0.0);
        let back = st.inverse_transform(&z).unwrap();
        for (a, b) in back.data().iter().zip(d.data()) {
            assert!((a - b).abs() < 1e-12);
        }
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(serde_json::from_str::<Standardizer>(&json).unwrap(), st);
        let bad = Dataset::from_rows(&[vec![1.0]]).unwrap();
        assert!(st.transform(&bad).is_err());
        assert!(Standardizer::fit(&Dataset::from_flat(0, 2, vec![]).unwrap()).is_err());
        let broken = Standardizer { mean: vec![0.0], std: vec![0.0] };
        assert!(broken.validate().is_err());
    }

    #[test]
    fn density_and_score_maps_match_change_of_variables() {
        // x ~ N(m, S) with S diagonal; in z-space the density is N((m-μ)/s, S/s²).
        let raw = GaussianMixture::gaussian(vec![1.0, -2.0], vec![4.0, 0.0, 0.0, 0.25]).unwrap();
        let st = Standardizer { mean: vec![0.5, -1.0], std: vec![2.0, 0.3] };
        let zm = vec![(1.0 - 0.5) / 2.0, (-2.0 + 1.0) / 0.3];
        let zc = vec![4.0 / 4.0, 0.0, 0.0, 0.25 / 0.09];
        let std_model = GaussianMixture::gaussian(zm, zc).unwrap();
        let x = [1.7, -2.2];
        let mut z = x;
        st.transform_in_place(&mut z).unwrap();
        let lp = st.log_density_to_raw(std_model.log_density(&z).unwrap());
        assert!((lp - raw.log_density(&x).unwrap()).abs() < 1e-12);
        assert!((st.energy_to_raw(-std_model.log_density(&z).unwrap()) + lp).abs() < 1e-12);
        let mut s = std_model.score(&z).unwrap();
        st.score_to_raw_in_place(&mut s).unwrap();
        let sr = raw.score(&x).unwrap();
        assert!((s[0] - sr[0]).abs() < 1e-12 && (s[1] - sr[1]).abs() < 1e-12);
        st.score_to_std_in_place(&mut s).unwrap();
        let sz = std_model.score(&z).unwrap();
        assert!((s[0] - sz[0]).abs() < 1e-12 && (s[1] - sz[1]).abs() < 1e-12);
        assert!(st.score_to_raw_in_place(&mut [0.0; 3]).is_err());
    }
}
