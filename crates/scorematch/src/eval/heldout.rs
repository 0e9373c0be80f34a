//! Held-out score-matching objective: the training loss on data the model has not seen.

use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{ConfigError, Error, Result};
use crate::model::Model;
use crate::objective::{Objective, Projection};
use crate::train::{CompiledLoss, evaluate_objective};

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
    /// Rows per compiled batch; rows beyond the last full batch are left out.
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
    /// Rows evaluated (whole batches).
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
            Ok(Objective::Esm)
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

/// The mean objective over `data` (model coordinates), compiled once
/// ([`CompiledLoss`], [`evaluate_objective`]) in batches of `min(batch_size, n)` rows.
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
    let b = config.batch_size.min(data.n());
    let mut loss = CompiledLoss::<T>::new(model, &objective, b, false, config.threads)?;
    let value = evaluate_objective(&mut loss, params, data, config.seed)?;
    Ok(HeldoutEstimate { objective: objective.name().into(), value, rows: data.n() / b * b })
}
