//! MLP energy: f_θ(x) = MLP_θ(x) + ‖x‖²/(2σ₀²).
//!
//! The MLP maps ℝᴰ → ℝ (last layer width 1). The optional Gaussian base term with scale σ₀
//! makes exp(−f) integrable whatever the MLP does at infinity (the MLP grows at most
//! linearly in ‖x‖ once its activations saturate or become linear), so the model is a
//! proper density and its log-likelihood can be estimated. Without it, score matching
//! still fits, but nothing prevents mass escaping to infinity.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Activation, Field, Mlp, Model, ParamSpec, check_batch, check_params};
use crate::error::Result;

/// An MLP energy model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpEnergy {
    /// Data dimension D.
    pub dim: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Scale σ₀ of the Gaussian base term, or `None` for no base term.
    pub base_sigma: Option<f64>,
}

impl MlpEnergy {
    fn mlp(&self) -> Mlp {
        Mlp { input: self.dim, hidden: self.hidden.clone(), output: 1, activation: self.activation }
    }
}

impl Model for MlpEnergy {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        self.mlp().param_specs("")
    }

    fn field(&self, params: &[Tensor], x: &Tensor, _sigma: Option<&Tensor>) -> Result<Field> {
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        let mut f = self.mlp().forward(params, x).sum(&[-1]);
        if let Some(s0) = self.base_sigma {
            f = f + x.square().sum(&[-1]) / (2.0 * s0 * s0);
        }
        Ok(Field::Energy(f))
    }

    fn has_energy(&self) -> bool {
        true
    }

    fn is_normalizable(&self) -> bool {
        self.base_sigma.is_some()
    }
}
