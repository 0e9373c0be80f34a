//! Evaluating a fitted model, in model coordinates (the standardised space it was trained
//! in; [`crate::data::Standardizer`] maps raw data in and results out).
//!
//! - [`heldout_objective`]: the score-matching loss on held-out data — exact SM for
//!   D ≤ 16 (configurable), sliced SM-VR above; reuses the training loss
//!   ([`crate::train::CompiledLoss`]).
//! - [`fisher_divergence`]: ½ E_data‖s_model − s_true‖² when the true score is known (toy
//!   densities); [`fisher_divergence_standardized`] maps a raw-coordinate true score.
//! - Log-likelihood ([`log_likelihood`]): exact for closed-form densities; for energies,
//!   mean(−f) − log Z with log Z by grid quadrature in D ≤ 2 ([`density_grid`], also the
//!   density plot's grid) or importance sampling from an inflated Gaussian fit to the data
//!   ([`importance_log_z`]) above. Score networks define no density and have none.
//! - Per-row log-density ([`row_log_density`]): log p of each row on its own — exact, by
//!   grid quadrature over a fixed box (D ≤ 2) or by importance sampling from a fixed
//!   proposal (normalisable energies above), so that no row's value depends on the others.
//! - [`ksd`]: kernel Stein discrepancy (IMQ kernel) between the model and a sample — needs
//!   only scores, so it applies to every non-conditional model.
//!
//! [`evaluate`] runs whichever of these apply and collects them in an [`EvalReport`].

mod fisher;
mod grid;
mod heldout;
mod ksd;
mod likelihood;
mod rows;

pub use fisher::{FisherEstimate, fisher_divergence, fisher_divergence_standardized};
pub use grid::{Bounds, EDGE_MASS_WARNING, Grid, cell_centers, density_grid};
pub use heldout::{HeldoutConfig, HeldoutEstimate, HeldoutLoss, heldout_objective};
pub use ksd::{KsdConfig, KsdEstimate, ksd, ksd_from_scores};
pub use likelihood::{
    Likelihood, LikelihoodConfig, LikelihoodMethod, LogZEstimate, exact_log_likelihood,
    fit_proposal, importance_log_z, log_likelihood,
};
pub use rows::{
    IS_DRAWS, IS_MIN_ESS, IS_PROPOSAL_STD, IS_SEED, QUADRATURE_CELLS_1D, QUADRATURE_CELLS_2D,
    QUADRATURE_HALF_WIDTH, RowDensityNote, RowLogDensity, importance_proposal, quadrature_box,
    quadrature_cells, row_log_density, rows_outside,
};

use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Standardizer};
use crate::error::{Error, Result};
use crate::memory;
use crate::model::Model;
use crate::sample::CompiledScore;

/// log Σ exp(vᵢ), stable (−∞ for an empty or all −∞ slice).
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Mean and standard error of the mean (sample standard deviation / √n).
pub(crate) fn mean_and_std_err(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Why `model` has no log-likelihood estimate, if it has none
/// ([`LikelihoodMethod::for_model`] finds no method): score networks define no density;
/// energies in D > 2 need a base term for importance sampling to be meaningful.
pub fn likelihood_unavailable(model: &dyn Model) -> Option<String> {
    match LikelihoodMethod::for_model(model) {
        Some(_) => None,
        None if model.has_energy() => Some(
            "this energy is not normalisable in D > 2 (no base term), so its likelihood cannot be estimated; train it with a base term (model.base_sigma)".into(),
        ),
        None => Some("a score network has no likelihood (it defines no density)".into()),
    }
}

/// [`log_likelihood`] of `model` with `params`, compiled here; errors with the reason when
/// the model has none ([`likelihood_unavailable`]).
pub fn log_likelihood_model<T: Element>(
    model: &dyn Model,
    params: &[Vec<T>],
    data: &Dataset,
    config: &LikelihoodConfig,
    threads: usize,
) -> Result<Likelihood> {
    if let Some(why) = likelihood_unavailable(model) {
        return Err(Error::InvalidArgument(why));
    }
    let mut field = CompiledScore::new(model, params, data.n().clamp(1, 1024), threads)?;
    log_likelihood(&mut field, data, config)
}

/// [`density_grid`] of `model` with `params` (D ≤ 2 energies), compiled here.
pub fn density_grid_model<T: Element>(
    model: &dyn Model,
    params: &[Vec<T>],
    bounds: &Bounds,
    nx: usize,
    ny: usize,
    threads: usize,
) -> Result<Grid> {
    let mut field = CompiledScore::new(model, params, (nx * ny).clamp(1, 4096), threads)?;
    density_grid(&mut field, bounds, nx, ny)
}

/// A true score function x ↦ ∇ₓ log p(x), one row in, D values out.
pub type TrueScore<'a> = &'a dyn Fn(&[f64]) -> Vec<f64>;

/// Which evaluations to run; `None` skips one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out objective.
    pub heldout: Option<HeldoutConfig>,
    /// Log-likelihood.
    pub likelihood: Option<LikelihoodConfig>,
    /// Kernel Stein discrepancy between the model and the data.
    pub ksd: Option<KsdConfig>,
    /// Rows per compiled evaluation.
    pub batch_size: usize,
    /// Worker threads.
    pub threads: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            heldout: Some(HeldoutConfig::default()),
            likelihood: Some(LikelihoodConfig::default()),
            ksd: Some(KsdConfig::default()),
            batch_size: 1024,
            threads: 1,
        }
    }
}

/// Everything [`evaluate`] measured; absent fields did not apply (see `notes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Data dimension.
    pub dim: usize,
    /// Rows evaluated.
    pub n: usize,
    /// Held-out score-matching objective.
    pub heldout: Option<HeldoutEstimate>,
    /// Fisher divergence to the true score (model coordinates), when it is known.
    pub fisher: Option<FisherEstimate>,
    /// Log-likelihood in model coordinates.
    pub log_likelihood: Option<Likelihood>,
    /// Mean log-likelihood in raw coordinates (model coordinates − Σ log sᵢ), when the data
    /// were standardised.
    pub mean_log_likelihood_raw: Option<f64>,
    /// KSD² between the model and the data.
    pub ksd: Option<KsdEstimate>,
    /// Evaluations skipped and why, and warnings.
    pub notes: Vec<String>,
}

/// Runs every configured evaluation that applies to `model` on `data` (model coordinates).
/// `standardizer`: the map from raw to model coordinates, if the data were standardised.
/// `true_score_raw`: the true score in **raw** coordinates (e.g. [`crate::data::ToyDensity::score`]),
/// mapped into model coordinates through `standardizer`.
pub fn evaluate<T: Element>(
    model: &dyn Model,
    params: &[Vec<T>],
    data: &Dataset,
    standardizer: Option<&Standardizer>,
    true_score_raw: Option<TrueScore<'_>>,
    config: &EvalConfig,
) -> Result<EvalReport> {
    if data.d() != model.dim() {
        return Err(Error::Shape(format!(
            "data has {} columns but the model expects {}",
            data.d(),
            model.dim()
        )));
    }
    if data.n() < 2 {
        return Err(Error::InvalidArgument(format!(
            "evaluation needs at least 2 rows, got {}",
            data.n()
        )));
    }
    let field_batch = data.n().clamp(1, config.batch_size.max(1));
    let heldout = config.heldout.as_ref().and_then(|h| Some((h.objective_for(model).ok()?, h)));
    let draws = match &config.likelihood {
        Some(l) if !model.is_noise_conditional() => l.is_samples,
        _ => 0,
    };
    memory::evaluation_need::<T>(
        model,
        field_batch,
        heldout.as_ref().map(|(o, h)| (o, h.batch_size)),
        data.n(),
        draws,
        config.threads,
    )?
    .check(
        "evaluating the model",
        "eval.batch_size",
        config.batch_size,
        "lower eval.batch_size and heldout.batch_size (rows per compiled batch)",
    )?;
    let mut report = EvalReport { dim: data.d(), n: data.n(), ..EvalReport::default() };
    if let Some(h) = &config.heldout {
        match h.objective_for(model) {
            Ok(_) => {
                report.heldout = noted(
                    &mut report.notes,
                    "held-out objective",
                    heldout_objective(model, params, data, h),
                )
            }
            Err(e) => report.notes.push(format!("held-out objective skipped: {e}")),
        }
    }
    if model.is_noise_conditional() {
        report.notes.push(
            "Fisher divergence, likelihood and KSD skipped: the model's score depends on σ".into(),
        );
        return Ok(report);
    }
    let mut field = CompiledScore::new(model, params, field_batch, config.threads)?;
    if let Some(truth) = true_score_raw {
        let fisher = match standardizer {
            Some(s) => fisher_divergence_standardized(&mut field, data, s, truth),
            None => fisher_divergence(&mut field, data, truth),
        };
        report.fisher = noted(&mut report.notes, "Fisher divergence", fisher);
    }
    if let Some(lc) = &config.likelihood {
        match likelihood_unavailable(model) {
            Some(why) => report.notes.push(format!("likelihood skipped: {why}")),
            None => {
                let l =
                    noted(&mut report.notes, "likelihood", log_likelihood(&mut field, data, lc));
                if let Some(l) = l {
                    report.mean_log_likelihood_raw =
                        standardizer.map(|s| s.log_density_to_raw(l.mean_log_likelihood));
                    report.notes.extend(l.warnings.iter().cloned());
                    report.log_likelihood = Some(l);
                }
            }
        }
    }
    if let Some(kc) = &config.ksd {
        report.ksd = noted(&mut report.notes, "KSD", ksd(&mut field, data.data(), kc));
    }
    Ok(report)
}

/// One estimator's result, or — when it failed (a diverged model gives non-finite scores,
/// say) — a note saying so, so that the other estimators are still reported.
fn noted<R>(notes: &mut Vec<String>, what: &str, result: Result<R>) -> Option<R> {
    result.map_err(|e| notes.push(format!("{what} not reported: {e}"))).ok()
}
