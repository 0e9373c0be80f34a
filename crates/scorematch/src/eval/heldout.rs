//! Held-out score-matching objective: the training loss on data the model has not seen,
//! averaged over every held-out row ([`HeldoutLoss`]).

use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::comm::{Communicator, SingleProcess, failures, part};
use crate::data::{Dataset, Rows};
use crate::error::{ConfigError, Error, Result};
use crate::model::Model;
use crate::objective::{Objective, Projection};
use crate::rng::Stream;
use crate::train::CompiledLoss;

/// How to compute the held-out objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeldoutConfig {
    /// Exact SM (D Jacobian-vector products per row) up to this dimension, sliced SM-VR
    /// above it.
    pub exact_max_dim: usize,
    /// Projections per row of sliced SM-VR.
    pub n_projections: usize,
    /// Distribution of the projections.
    pub projection: Projection,
    /// Rows per compiled batch (the rows beyond the last full batch form one more, smaller
    /// batch: every row counts).
    pub batch_size: usize,
    /// Seed of the projections (or denoising noise), fixed so runs are comparable.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// The objective to use instead of the automatic choice (required for noise-conditional
    /// models: the `ms-dsm` ladder they were trained with).
    pub objective: Option<Objective>,
}

impl Default for HeldoutConfig {
    fn default() -> Self {
        Self {
            exact_max_dim: 16,
            n_projections: 8,
            projection: Projection::Rademacher,
            batch_size: 256,
            seed: 0,
            threads: 1,
            objective: None,
        }
    }
}

/// A held-out objective value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldoutEstimate {
    /// The objective's name (`esm`, `ssm-vr`, …).
    pub objective: String,
    /// Mean per-row loss (for esm/ssm-vr: E[tr ∇ₓs + ½‖s‖²], the Fisher divergence to the
    /// data up to a model-independent constant; lower is better).
    pub value: f64,
    /// Rows evaluated: all of them.
    pub rows: usize,
}

impl HeldoutConfig {
    /// The objective used for `model`: the configured one, else exact SM when D ≤
    /// `exact_max_dim`, else sliced SM-VR with `n_projections` projections.
    pub fn objective_for(&self, model: &dyn Model) -> Result<Objective> {
        if let Some(o) = &self.objective {
            return Ok(o.clone());
        }
        if model.is_noise_conditional() {
            return Err(Error::InvalidArgument(
                "the held-out objective of a noise-conditional model is ms-dsm on the ladder it was trained with; give that objective explicitly".into(),
            ));
        }
        if model.dim() <= self.exact_max_dim {
            Ok(Objective::Esm { chunk: None })
        } else {
            if self.n_projections == 0 {
                return Err(
                    ConfigError::new("heldout.n_projections", 0, "must be at least 1").into()
                );
            }
            Ok(Objective::SsmVr { projection: self.projection, n_projections: self.n_projections })
        }
    }
}

/// The mean of an objective over a fixed number of rows, every row counted. Compiled
/// programs have fixed batch sizes, so the loss is compiled once for batches of b rows
/// and, when b does not divide the n rows, once more for the r = n mod b rows left: with
/// L_k the mean loss of full batch k and L_r that of the last rows,
///
/// mean = (b·Σ_k L_k + r·L_r) / n,
///
/// exactly the mean of the per-row losses over all n rows. Batch k (the last rows being
/// the last batch) draws its noise (projections, denoising noise) from a generator keyed by
/// the caller's seed and k, so that successive evaluations of the same rows are comparable
/// and a batch draws the same whichever rank of a distributed run evaluates it
/// ([`HeldoutLoss::mean_in`]: rank j evaluates the batches [`part`]`(batches, j, N)`, and
/// the `b·L_k` are summed over the ranks).
pub struct HeldoutLoss<T: Element> {
    full: CompiledLoss<T>,
    rest: Option<CompiledLoss<T>>,
    rows: usize,
    /// A batch's row indices and rows as read (reused: evaluating allocates nothing).
    indices: Vec<usize>,
    read: Vec<f64>,
    buffer: Vec<T>,
}

impl<T: Element> HeldoutLoss<T> {
    /// `objective` for `model`, compiled for `rows` rows in batches of `batch` rows (fewer
    /// when there are fewer rows).
    pub fn new(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        rows: usize,
        threads: usize,
    ) -> Result<Self> {
        if rows == 0 {
            return Err(Error::InvalidArgument("no rows to evaluate the objective on".into()));
        }
        let b = batch.clamp(1, rows);
        let full = CompiledLoss::new(model, objective, b, false, threads)?;
        let rest = match rows % b {
            0 => None,
            r => Some(CompiledLoss::new(model, objective, r, false, threads)?),
        };
        let buffer = vec![T::zero(); b * model.dim()];
        Ok(Self { full, rest, rows, indices: Vec::with_capacity(b), read: Vec::new(), buffer })
    }

    /// The number of rows this loss averages over.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The mean loss over the rows of `data` (which must have [`HeldoutLoss::rows`] rows),
    /// with noise keyed by `seed`.
    pub fn mean(&mut self, params: &[Vec<T>], data: &dyn Rows, seed: u64) -> Result<f64> {
        self.mean_in(&SingleProcess, params, data, seed)
    }

    /// [`HeldoutLoss::mean`] shared by the ranks of `comm` (a collective call: every rank
    /// passes the same parameters, rows and seed, and gets the same mean).
    pub fn mean_in(
        &mut self,
        comm: &dyn Communicator,
        params: &[Vec<T>],
        data: &dyn Rows,
        seed: u64,
    ) -> Result<f64> {
        let local = self.local_sum(comm, params, data, seed);
        // One sum: the failure flags (one per rank), then the ranks' sums.
        let mut sums = vec![0.0; comm.size() + 1];
        match &local {
            Ok(sum) => sums[comm.size()] = *sum,
            Err(_) => sums[comm.rank()] = 1.0,
        }
        comm.sum_f64(&mut sums);
        failures(comm, &sums[..comm.size()], local)?;
        Ok(sums[comm.size()] / self.rows as f64)
    }

    /// Σ rows · (mean loss) over this rank's batches.
    fn local_sum(
        &mut self,
        comm: &dyn Communicator,
        params: &[Vec<T>],
        data: &dyn Rows,
        seed: u64,
    ) -> Result<f64> {
        if data.n() != self.rows {
            return Err(Error::Shape(format!(
                "{} rows given to an objective compiled for {}",
                data.n(),
                self.rows
            )));
        }
        let (b, d) = (self.full.batch(), data.d());
        let batches = self.rows.div_ceil(b);
        let mut total = 0.0;
        for k in part(batches, comm.rank(), comm.size()) {
            self.indices.clear();
            self.indices.extend(k * b..((k + 1) * b).min(self.rows));
            self.read.resize(self.indices.len() * d, 0.0);
            data.read(&self.indices, &mut self.read)?;
            self.buffer.clear();
            self.buffer.extend(self.read.iter().map(|&v| T::from_f64(v)));
            let loss = match &mut self.rest {
                Some(rest) if k == batches - 1 => rest,
                _ => &mut self.full,
            };
            let mut rng = Stream::HeldOut.keyed(seed, &[k as u64]);
            total += loss.evaluate_with_fresh_noise(params, &self.buffer, &mut rng)?
                * loss.batch() as f64;
        }
        Ok(total)
    }
}

/// The mean objective over all of `data` (model coordinates), compiled once
/// ([`HeldoutLoss`]) in batches of `batch_size` rows and one batch of the rows left.
pub fn heldout_objective<T: Element>(
    model: &dyn Model,
    params: &[Vec<T>],
    data: &Dataset,
    config: &HeldoutConfig,
) -> Result<HeldoutEstimate> {
    if data.d() != model.dim() {
        return Err(Error::Shape(format!(
            "data has {} columns but the model expects {}",
            data.d(),
            model.dim()
        )));
    }
    if data.is_empty() {
        return Err(Error::InvalidArgument("no rows to evaluate the held-out objective on".into()));
    }
    if config.batch_size == 0 {
        return Err(ConfigError::new("heldout.batch_size", 0, "must be at least 1").into());
    }
    let objective = config.objective_for(model)?;
    let mut loss =
        HeldoutLoss::<T>::new(model, &objective, config.batch_size, data.n(), config.threads)?;
    let value = loss.mean(params, data, config.seed)?;
    Ok(HeldoutEstimate { objective: objective.name().into(), value, rows: data.n() })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::model::{Activation, MlpEnergy, ModelConfig};

    /// Exact SM draws no noise, so the mean over 10 rows is the same in batches of 4
    /// (4 + 4 + a last batch of 2) as in one batch: every row counts, with its weight.
    #[test]
    fn every_row_counts_whatever_the_batch() -> Result<()> {
        let config = ModelConfig::MlpEnergy(MlpEnergy {
            dim: 2,
            hidden: vec![8],
            activation: Activation::Tanh,
            base_sigma: Some(2.0),
        });
        let params = config.init_params(&mut StdRng::seed_from_u64(1));
        let rows: Vec<f64> = (0..20).map(|i| (i as f64 * 0.37).sin()).collect();
        let data = Dataset::from_flat(10, 2, rows)?;
        let mean = |batch| {
            HeldoutLoss::<f64>::new(config.model(), &Objective::Esm { chunk: None }, batch, 10, 1)?
                .mean(&params, &data, 0)
        };
        let (whole, batched) = (mean(10)?, mean(4)?);
        assert!((whole - batched).abs() < 1e-12 * whole.abs().max(1.0), "{whole} vs {batched}");
        let heldout = HeldoutConfig { batch_size: 4, ..HeldoutConfig::default() };
        let estimate = heldout_objective(config.model(), &params, &data, &heldout)?;
        assert_eq!((estimate.rows, estimate.value), (10, batched));
        Ok(())
    }
}
