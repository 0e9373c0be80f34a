//! Per-row log-densities: log p(xᵢ) for each row on its own, e.g. to flag rows of low
//! density as anomalies. The strategy, its constants and why no row's value may depend on
//! the other rows are stated on [`row_log_density`].

use serde::{Deserialize, Serialize};

use super::grid::{Bounds, EDGE_MASS_WARNING, density_grid};
use super::likelihood::{LikelihoodConfig, LikelihoodMethod, LogZEstimate, importance_log_z};
use crate::data::{Dataset, GaussianMixture};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sample::ScoreFn;

/// Half-width h of the quadrature box [−h, h]ᴰ (model coordinates; standardised data lies
/// well inside).
pub const QUADRATURE_HALF_WIDTH: f64 = 8.0;
/// Cells of log Z quadrature in one dimension.
pub const QUADRATURE_CELLS_1D: usize = 4000;
/// Cells per axis of log Z quadrature in two dimensions.
pub const QUADRATURE_CELLS_2D: usize = 400;
/// Standard deviation of the importance proposal N(0, σ_q²·I) (model coordinates).
pub const IS_PROPOSAL_STD: f64 = 1.5;
/// Proposal draws N of importance-sampled log Z.
pub const IS_DRAWS: usize = 20_000;
/// Seed of the proposal draws (fixed: the estimate depends on the model only).
pub const IS_SEED: u64 = 0;
/// Below this effective sample size (Σw)²/Σw² an importance estimate of log Z is
/// unreliable: per-row log-densities are omitted, and a mean log-likelihood is marked
/// unreliable ([`super::Likelihood::reliable`]). With fewer than ~100 effective draws the
/// sum is dominated by a few weights and the delta-method standard error, computed from
/// those same weights, understates the error.
pub const IS_MIN_ESS: f64 = 100.0;

/// The box [−h, h]ᴰ, h = [`QUADRATURE_HALF_WIDTH`], over which log Z of a 1-D or 2-D
/// energy is integrated, in model coordinates, whatever data is being scored.
pub fn quadrature_box(dim: usize) -> Result<Bounds> {
    let h = QUADRATURE_HALF_WIDTH;
    Bounds::new(vec![-h; dim], vec![h; dim])
}

/// Cells per axis of log Z quadrature in `dim` dimensions: [`QUADRATURE_CELLS_1D`] in one,
/// [`QUADRATURE_CELLS_2D`] in two (a 400 × 400 grid).
pub fn quadrature_cells(dim: usize) -> usize {
    if dim == 1 { QUADRATURE_CELLS_1D } else { QUADRATURE_CELLS_2D }
}

/// How many rows of `data` lie outside `bounds` (some coordinate below lo or above hi).
pub fn rows_outside(data: &Dataset, bounds: &Bounds) -> usize {
    data.rows()
        .filter(|r| {
            r.iter().zip(bounds.lo.iter().zip(&bounds.hi)).any(|(v, (l, h))| v < l || v > h)
        })
        .count()
}

/// The fixed importance proposal N(0, σ_q²·I) of `model`: σ_q its own
/// ([`Model::importance_std`], dkef's base N(0, 4I)) or [`IS_PROPOSAL_STD`].
pub fn importance_proposal(model: &dyn Model) -> Result<GaussianMixture> {
    let (dim, std) = (model.dim(), model.importance_std().unwrap_or(IS_PROPOSAL_STD));
    let cov = (0..dim * dim).map(|i| if i / dim == i % dim { std * std } else { 0.0 }).collect();
    GaussianMixture::gaussian(vec![0.0; dim], cov)
}

impl LikelihoodConfig {
    /// The likelihood settings that agree with [`row_log_density`]: grid quadrature over the
    /// fixed [`quadrature_box`] with [`quadrature_cells`] cells (in D ≤ 2), importance draws
    /// seeded by `seed`.
    pub fn fixed_box(dim: usize, seed: u64) -> Result<Self> {
        Ok(Self {
            bounds: (dim <= 2).then(|| quadrature_box(dim)).transpose()?,
            resolution: Some(quadrature_cells(dim)),
            seed,
            ..Self::default()
        })
    }
}

/// Something to know about a per-row log-density: a reason to distrust it, how it was
/// normalised, or why it is absent. Each front words these in its own terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "kebab-case")]
pub enum RowDensityNote {
    /// `rows` rows lie outside the quadrature box [−half_width, half_width]^dim (model
    /// coordinates): their log-density extrapolates the model far from its training data.
    RowsOutsideBox {
        /// Rows outside.
        rows: usize,
        /// The box's half-width.
        half_width: f64,
        /// Its dimension.
        dim: usize,
    },
    /// A `fraction` of the model's mass above [`EDGE_MASS_WARNING`] lies on the outer ring
    /// of grid cells: log Z is underestimated and every log-density too high.
    EdgeMass {
        /// The grid's mass on its edge.
        fraction: f64,
    },
    /// Normalised by importance sampling with this estimate of log Z.
    ImportanceSampled(LogZEstimate),
    /// Omitted: the importance estimate's effective sample size is below [`IS_MIN_ESS`].
    UnreliableImportanceSampling(LogZEstimate),
    /// Omitted: a `dim`-D energy without a base term need not be integrable, and it is
    /// beyond grid quadrature (D ≤ 2).
    NotNormalizable {
        /// The model's dimension.
        dim: usize,
    },
    /// Omitted: a score network defines no density (nor an energy).
    NoDensity,
}

/// Per-row log-densities (model coordinates) and how they were obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowLogDensity {
    /// How log Z was obtained; `None` when the log-density is omitted (see `notes`).
    pub method: Option<LikelihoodMethod>,
    /// log p per row, or `None` when omitted.
    pub values: Option<Vec<f64>>,
    /// log Z (grid or importance sampling).
    pub log_z: Option<f64>,
    /// Standard error of log Ẑ (importance sampling).
    pub log_z_std_err: Option<f64>,
    /// Effective sample size of the importance weights.
    pub ess: Option<f64>,
    /// Fraction of the grid's mass on its outer ring of cells.
    pub edge_mass: Option<f64>,
    /// Warnings, how it was normalised, or why it is omitted.
    pub notes: Vec<RowDensityNote>,
}

impl RowLogDensity {
    fn new(
        method: Option<LikelihoodMethod>,
        values: Option<Vec<f64>>,
        notes: Vec<RowDensityNote>,
    ) -> Self {
        Self { method, values, log_z: None, log_z_std_err: None, ess: None, edge_mass: None, notes }
    }

    fn with_estimate(self, est: &LogZEstimate) -> Self {
        Self {
            log_z: Some(est.log_z),
            log_z_std_err: Some(est.std_err),
            ess: Some(est.ess),
            ..self
        }
    }
}

/// log p of each row of `data` (model coordinates) under `model`, compiled as `field`.
///
/// For an energy, log p(x) = −f(x) − log Z with one normalising constant Z = ∫ exp(−f) for
/// every row. How Z is obtained depends on the model ([`LikelihoodMethod::for_model`]):
///
/// - **exact** — flows and Gaussians have log p in closed form;
/// - **grid** — energies in D ≤ 2: midpoint-rule quadrature over the fixed box
///   [−[`QUADRATURE_HALF_WIDTH`], +[`QUADRATURE_HALF_WIDTH`]]ᴰ of model coordinates
///   ([`quadrature_box`], [`quadrature_cells`] cells per axis);
/// - **importance sampling** — normalisable energies beyond two dimensions:
///   log Ẑ = logsumexp(−f(yⱼ) − log q(yⱼ)) − log N over N = [`IS_DRAWS`] draws yⱼ from the
///   fixed proposal q = [`importance_proposal`] (N(0, [`IS_PROPOSAL_STD`]²·I), or the model's
///   own: dkef's base N(0, 4I)) with the fixed seed [`IS_SEED`]; the
///   estimate is used only when its effective sample size (Σw)²/Σw² is at least
///   [`IS_MIN_ESS`];
/// - **omitted** otherwise: a score network defines no density, and an energy without a
///   base term need not be integrable in D > 2.
///
/// **A row's log-density must not depend on the other rows.** Z is a property of the
/// model alone, so the box, the proposal and the seed are fixed in model coordinates (where
/// standardised training data has unit scale) rather than fitted to the rows being scored:
/// scoring a row alone or beside an outlier gives the same bits. (The box used to widen to
/// cover the scored data, so one far row shifted every other row's log-density.) Rows
/// outside the box are still scored — their values extrapolate the model — and counted in a
/// [`RowDensityNote::RowsOutsideBox`] note.
///
/// [`eval::evaluate`](super::evaluate) reports the *mean* log-likelihood of a data set; it
/// uses the same box ([`LikelihoodConfig::fixed_box`]) but fits its importance proposal to
/// the data, as a summary of a whole data set may.
pub fn row_log_density(
    model: &dyn Model,
    field: &mut dyn ScoreFn,
    data: &Dataset,
) -> Result<RowLogDensity> {
    let d = model.dim();
    if data.d() != d || field.dim() != d {
        return Err(Error::Shape(format!(
            "data has {} columns, the model {d} and its compiled field {}",
            data.d(),
            field.dim()
        )));
    }
    let Some(method) = LikelihoodMethod::for_model(model) else {
        let why = if model.has_energy() {
            RowDensityNote::NotNormalizable { dim: d }
        } else {
            RowDensityNote::NoDensity
        };
        return Ok(RowLogDensity::new(None, None, vec![why]));
    };
    let mut values = vec![0.0; data.n()];
    if method == LikelihoodMethod::Exact {
        field.log_density(data.data(), &mut values)?;
        return Ok(RowLogDensity::new(Some(method), Some(values), Vec::new()));
    }
    // log p = −f − log Z, in place over the energies.
    field.energy(data.data(), &mut values)?;
    let normalise = |values: &mut Vec<f64>, log_z: f64| {
        values.iter_mut().for_each(|v| *v = -*v - log_z);
    };
    if method == LikelihoodMethod::Grid {
        let bounds = quadrature_box(d)?;
        let mut notes = Vec::new();
        let outside = rows_outside(data, &bounds);
        if outside > 0 {
            notes.push(RowDensityNote::RowsOutsideBox {
                rows: outside,
                half_width: QUADRATURE_HALF_WIDTH,
                dim: d,
            });
        }
        let cells = quadrature_cells(d);
        let grid = density_grid(field, &bounds, cells, if d == 1 { 1 } else { cells })?;
        if grid.edge_mass > EDGE_MASS_WARNING {
            notes.push(RowDensityNote::EdgeMass { fraction: grid.edge_mass });
        }
        normalise(&mut values, grid.log_z);
        return Ok(RowLogDensity {
            log_z: Some(grid.log_z),
            edge_mass: Some(grid.edge_mass),
            ..RowLogDensity::new(Some(method), Some(values), notes)
        });
    }
    let est = importance_log_z(field, &importance_proposal(model)?, IS_DRAWS, IS_SEED)?;
    if est.ess < IS_MIN_ESS {
        let note = RowDensityNote::UnreliableImportanceSampling(est.clone());
        return Ok(RowLogDensity::new(None, None, vec![note]).with_estimate(&est));
    }
    normalise(&mut values, est.log_z);
    let note = RowDensityNote::ImportanceSampled(est.clone());
    Ok(RowLogDensity::new(Some(method), Some(values), vec![note]).with_estimate(&est))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quadrature_box_is_fixed_and_far_rows_are_counted() -> Result<()> {
        let data = Dataset::from_rows(&[vec![0.0, 20.0], vec![1.0, 3.0]])?;
        let b = quadrature_box(2)?;
        assert_eq!((b.lo.clone(), b.hi.clone()), (vec![-8.0, -8.0], vec![8.0, 8.0]));
        assert_eq!(rows_outside(&data, &b), 1);
        assert_eq!((quadrature_cells(1), quadrature_cells(2)), (4000, 400));
        let model = crate::model::GaussianEnergy { dim: 3 };
        let q = importance_proposal(&model)?;
        assert_eq!(q.covariances()[0], [2.25, 0.0, 0.0, 0.0, 2.25, 0.0, 0.0, 0.0, 2.25]);
        Ok(())
    }
}
