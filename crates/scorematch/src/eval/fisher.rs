//! Fisher divergence to a known score.

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Standardizer};
use crate::error::{Error, Result};
use crate::sample::ScoreFn;

/// A Monte-Carlo estimate over the data rows, with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FisherEstimate {
    /// ½ E‖s_model(x) − s_true(x)‖² (mean over rows).
    pub value: f64,
    /// Standard error of the mean (sample standard deviation / √n).
    pub std_err: f64,
    /// Rows used.
    pub n: usize,
}

/// The Fisher divergence ½ E_data‖s_model(x) − s_true(x)‖², estimated by the mean over the
/// rows of `data`.
///
/// Everything is in **model coordinates**: `data` is what the model sees, and `true_score`
/// must be the score of the true density *in those coordinates*. When the model was trained
/// on standardised data z = (x − μ)/s, the true score there is score_raw(x)·s (elementwise)
/// — use [`fisher_divergence_standardized`], which does that mapping. (The value is not
/// invariant under the standardisation: each coordinate's squared error is weighted by s².)
pub fn fisher_divergence(
    field: &mut dyn ScoreFn,
    data: &Dataset,
    true_score: &dyn Fn(&[f64]) -> Vec<f64>,
) -> Result<FisherEstimate> {
    fisher_with(field, data, &mut |z, out| copy_true_score(&true_score(z), out))
}

/// [`fisher_divergence`] for a model trained on standardised data: `data` is standardised
/// (model coordinates z), `true_score_raw` the true score in raw coordinates, and the true
/// score in model coordinates is score_std(z) = score_raw(μ + s·z)·s elementwise.
pub fn fisher_divergence_standardized(
    field: &mut dyn ScoreFn,
    data: &Dataset,
    standardizer: &Standardizer,
    true_score_raw: &dyn Fn(&[f64]) -> Vec<f64>,
) -> Result<FisherEstimate> {
    standardizer.validate()?;
    if standardizer.dim() != data.d() {
        return Err(Error::Shape(format!(
            "standardizer has {} columns but the data {}",
            standardizer.dim(),
            data.d()
        )));
    }
    let mut raw = vec![0.0; data.d()];
    fisher_with(field, data, &mut |z, out| {
        raw.copy_from_slice(z);
        standardizer.inverse_transform_in_place(&mut raw)?;
        copy_true_score(&true_score_raw(&raw), out)?;
        standardizer.score_to_std_in_place(out)
    })
}

/// Copies a true score into `out`, checking its length.
fn copy_true_score(s: &[f64], out: &mut [f64]) -> Result<()> {
    if s.len() != out.len() {
        return Err(Error::Shape(format!(
            "true score has {} values, expected {}",
            s.len(),
            out.len()
        )));
    }
    out.copy_from_slice(s);
    Ok(())
}

/// Writes the true score at a row (model coordinates) into the buffer.
type TruthFn<'a> = dyn FnMut(&[f64], &mut [f64]) -> Result<()> + 'a;

fn fisher_with(
    field: &mut dyn ScoreFn,
    data: &Dataset,
    truth: &mut TruthFn<'_>,
) -> Result<FisherEstimate> {
    let (n, d) = (data.n(), data.d());
    if d != field.dim() {
        return Err(Error::Shape(format!(
            "data has {d} columns but the model expects {}",
            field.dim()
        )));
    }
    if n == 0 {
        return Err(Error::InvalidArgument("no rows to estimate the Fisher divergence on".into()));
    }
    let mut model = vec![0.0; n * d];
    field.score(data.data(), None, &mut model)?;
    let mut t = vec![0.0; d];
    let mut terms = Vec::with_capacity(n);
    for (z, s) in data.rows().zip(model.chunks_exact(d)) {
        truth(z, &mut t)?;
        terms.push(0.5 * s.iter().zip(&t).map(|(a, b)| (a - b) * (a - b)).sum::<f64>());
    }
    let (value, std_err) = super::mean_and_std_err(&terms);
    if !value.is_finite() {
        return Err(Error::NonFinite(
            "the Fisher divergence is not finite (a score is NaN or Inf)".into(),
        ));
    }
    Ok(FisherEstimate { value, std_err, n })
}
