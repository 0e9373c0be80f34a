//! Log-likelihood of held-out data: exact for closed-form densities, by grid quadrature of
//! log Z for energies in D ≤ 2, by importance sampling of log Z above.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::grid::{Bounds, EDGE_MASS_WARNING, density_grid};
use super::rows::IS_MIN_ESS;
use crate::data::{Dataset, GaussianMixture};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sample::ScoreFn;

/// How log Z was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LikelihoodMethod {
    /// The model's closed-form normalised density (flows, Gaussians).
    Exact,
    /// Midpoint-rule quadrature on a grid (D ≤ 2).
    Grid,
    /// Importance sampling from a Gaussian fitted to the data.
    ImportanceSampling,
}

impl LikelihoodMethod {
    /// The method that applies to `model`: [`Exact`](Self::Exact) for a closed-form
    /// density; for an energy f, log Z = log ∫ exp(−f) by [`Grid`](Self::Grid) quadrature
    /// in D ≤ 2, else by [`ImportanceSampling`](Self::ImportanceSampling) when exp(−f) is
    /// integrable by construction ([`Model::is_normalizable`]); `None` for score networks
    /// (no density) and for energies in D > 2 without a base term.
    pub fn for_model(model: &dyn Model) -> Option<Self> {
        if model.has_log_density() {
            Some(Self::Exact)
        } else if !model.has_energy() {
            None
        } else if model.dim() <= 2 {
            Some(Self::Grid)
        } else {
            model.is_normalizable().then_some(Self::ImportanceSampling)
        }
    }
}

/// How to estimate the log-likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LikelihoodConfig {
    /// Grid box; `None`: the data's range padded by `margin`.
    pub bounds: Option<Bounds>,
    /// Padding of the automatic box, as a fraction of the data's range on each side.
    pub margin: f64,
    /// Cells per axis; `None`: 2000 in one dimension, 200 in two.
    pub resolution: Option<usize>,
    /// Importance samples.
    pub is_samples: usize,
    /// The proposal is N(mean, inflate²·cov) of the data (heavier than the model's tails).
    pub is_inflate: f64,
    /// Seed of the importance samples.
    pub seed: u64,
}

impl Default for LikelihoodConfig {
    fn default() -> Self {
        Self {
            bounds: None,
            margin: 0.5,
            resolution: None,
            is_samples: 20_000,
            is_inflate: 1.5,
            seed: 0,
        }
    }
}

/// A log-likelihood estimate, in model coordinates (add −Σ log sᵢ for raw coordinates of
/// standardised data, see [`crate::data::Standardizer::log_density_to_raw`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Likelihood {
    /// How log Z was obtained.
    pub method: LikelihoodMethod,
    /// Mean log p over the data: mean(−f) − log Z, or mean log p when exact.
    pub mean_log_likelihood: f64,
    /// Standard error of that mean over the rows (not including log Z's error).
    pub std_err: f64,
    /// Rows evaluated.
    pub n: usize,
    /// log Z (absent when exact).
    pub log_z: Option<f64>,
    /// Standard error of log Ẑ (importance sampling).
    pub log_z_std_err: Option<f64>,
    /// Effective sample size (Σw)²/Σw² of the importance weights.
    pub ess: Option<f64>,
    /// Fraction of the grid's mass on its outer ring of cells.
    pub edge_mass: Option<f64>,
    /// Whether the estimate can be trusted: false when importance sampling's effective
    /// sample size is below [`IS_MIN_ESS`] — a handful of draws then carries the weight, and
    /// log Ẑ and its standard error (estimated from those same draws) are both unreliable,
    /// so the ± is no measure of the error. A front must not show such an estimate as a
    /// value ± its standard error.
    pub reliable: bool,
    /// Reasons to distrust the number.
    pub warnings: Vec<String>,
}

/// An importance-sampling estimate of log Z.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogZEstimate {
    /// log Ẑ = logsumexp(−f(xᵢ) − log q(xᵢ)) − log N.
    pub log_z: f64,
    /// Delta-method standard error sd(w)/(mean(w)·√N) of log Ẑ.
    pub std_err: f64,
    /// Effective sample size (Σw)²/Σw².
    pub ess: f64,
    /// Proposal draws N.
    pub n: usize,
}

/// Mean log p over `data` from the model's closed-form log-density.
pub fn exact_log_likelihood(field: &mut dyn ScoreFn, data: &Dataset) -> Result<Likelihood> {
    check_data(field, data)?;
    let mut lp = vec![0.0; data.n()];
    field.log_density(data.data(), &mut lp)?;
    Ok(finish(LikelihoodMethod::Exact, &lp, 0.0))
}

/// A Gaussian proposal fitted to `data`: N(mean, inflate²·(cov + jitter·I)), the jitter
/// (1e-6 of the mean variance) keeping a degenerate covariance positive definite.
pub fn fit_proposal(data: &Dataset, inflate: f64) -> Result<GaussianMixture> {
    let (n, d) = (data.n(), data.d());
    if n < 2 {
        return Err(Error::InvalidArgument("fitting a proposal needs at least 2 rows".into()));
    }
    if !(inflate > 0.0 && inflate.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "proposal inflation must be > 0, got {inflate}"
        )));
    }
    let (mean, mut cov) = data.mean_and_covariance(1);
    let jitter = 1e-6 * (0..d).map(|i| cov[i * d + i]).sum::<f64>() / d as f64 + 1e-12;
    for i in 0..d {
        cov[i * d + i] += jitter;
    }
    cov.iter_mut().for_each(|c| *c *= inflate * inflate);
    GaussianMixture::gaussian(mean, cov)
}

/// log Z = log ∫ exp(−f) by importance sampling from `proposal` q with `n` draws:
/// log Ẑ = logsumexp(−f(xᵢ) − log q(xᵢ)) − log N. Only meaningful for normalisable models.
pub fn importance_log_z(
    field: &mut dyn ScoreFn,
    proposal: &GaussianMixture,
    n: usize,
    seed: u64,
) -> Result<LogZEstimate> {
    if proposal.dim() != field.dim() {
        return Err(Error::Shape(format!(
            "proposal has dimension {}, model {}",
            proposal.dim(),
            field.dim()
        )));
    }
    if n < 2 {
        return Err(Error::InvalidArgument("importance sampling needs at least 2 draws".into()));
    }
    let x = proposal.sample(n, &mut StdRng::seed_from_u64(seed));
    let mut f = vec![0.0; n];
    field.energy(x.data(), &mut f)?;
    let log_q = proposal.log_density_batch(x.data())?;
    let log_w: Vec<f64> = f.iter().zip(&log_q).map(|(f, q)| -f - q).collect();
    if log_w.iter().any(|v| v.is_nan()) {
        return Err(Error::NonFinite(
            "an importance weight is NaN (the energy is not finite)".into(),
        ));
    }
    let lse = super::log_sum_exp(&log_w);
    let twice: Vec<f64> = log_w.iter().map(|v| 2.0 * v).collect();
    let lse2 = super::log_sum_exp(&twice);
    let ess = (2.0 * lse - lse2).exp();
    // Var(w)/mean(w)² = N·Σw²/(Σw)² − 1 (plug-in); se(log Ẑ) ≈ √(that / N).
    let rel_var = (n as f64 * (lse2 - 2.0 * lse).exp() - 1.0).max(0.0);
    Ok(LogZEstimate { log_z: lse - (n as f64).ln(), std_err: (rel_var / n as f64).sqrt(), ess, n })
}

/// The mean log-likelihood of `data` (model coordinates): exact when the model has a
/// closed-form density; otherwise −mean f − log Z with log Z by grid quadrature (D ≤ 2) or
/// importance sampling (D > 2, normalisable energies only — the caller checks).
pub fn log_likelihood(
    field: &mut dyn ScoreFn,
    data: &Dataset,
    config: &LikelihoodConfig,
) -> Result<Likelihood> {
    check_data(field, data)?;
    if field.has_log_density() {
        return exact_log_likelihood(field, data);
    }
    if !field.has_energy() || field.is_noise_conditional() {
        return Err(Error::InvalidArgument(
            "a score network has no likelihood (it defines no density); use an energy, nice or gaussian model".into(),
        ));
    }
    let d = field.dim();
    let mut f = vec![0.0; data.n()];
    field.energy(data.data(), &mut f)?;
    let neg_f: Vec<f64> = f.iter().map(|v| -v).collect();
    if d <= 2 {
        let bounds = match &config.bounds {
            Some(b) => b.clone(),
            None => Bounds::from_data(data, config.margin)?,
        };
        let res = config.resolution.unwrap_or(if d == 1 { 2000 } else { 200 });
        let grid = density_grid(field, &bounds, res, if d == 1 { 1 } else { res })?;
        let mut out = finish(LikelihoodMethod::Grid, &neg_f, grid.log_z);
        out.edge_mass = Some(grid.edge_mass);
        if grid.edge_mass > EDGE_MASS_WARNING {
            out.warnings.push(format!(
                "{:.2}% of the grid's mass lies on its edge: the box misses mass, so log Z is underestimated; widen it",
                100.0 * grid.edge_mass
            ));
        }
        let outside = data
            .rows()
            .filter(|r| r.iter().enumerate().any(|(j, v)| *v < bounds.lo[j] || *v > bounds.hi[j]))
            .count();
        if outside > 0 {
            out.warnings.push(format!("{outside} data rows lie outside the integration box"));
        }
        return Ok(out);
    }
    let proposal = fit_proposal(data, config.is_inflate)?;
    let est = importance_log_z(field, &proposal, config.is_samples, config.seed)?;
    let mut out = finish(LikelihoodMethod::ImportanceSampling, &neg_f, est.log_z);
    out.log_z_std_err = Some(est.std_err);
    out.ess = Some(est.ess);
    if est.ess < IS_MIN_ESS {
        out.reliable = false;
        out.warnings.push(format!(
            "importance sampling's effective sample size is {:.1} of {} draws (below \
             {IS_MIN_ESS}): log Z and the log-likelihood are unreliable",
            est.ess, est.n
        ));
    }
    Ok(out)
}

fn check_data(field: &dyn ScoreFn, data: &Dataset) -> Result<()> {
    if data.d() != field.dim() {
        return Err(Error::Shape(format!(
            "data has {} columns but the model expects {}",
            data.d(),
            field.dim()
        )));
    }
    if data.is_empty() {
        return Err(Error::InvalidArgument("no rows to evaluate the likelihood on".into()));
    }
    Ok(())
}

/// A report from per-row log p + log Z values (`log_z` is subtracted; 0 when exact).
fn finish(method: LikelihoodMethod, per_row: &[f64], log_z: f64) -> Likelihood {
    let (mean, std_err) = super::mean_and_std_err(per_row);
    let mut warnings = Vec::new();
    if !mean.is_finite() {
        warnings.push("some rows have a non-finite log-likelihood".into());
    }
    Likelihood {
        method,
        mean_log_likelihood: mean - log_z,
        std_err,
        n: per_row.len(),
        log_z: (method != LikelihoodMethod::Exact).then_some(log_z),
        log_z_std_err: None,
        ess: None,
        edge_mass: None,
        reliable: true,
        warnings,
    }
}
