//! MLP score network: s_θ(x) = MLP_θ(x), ℝᴰ → ℝᴰ.
//!
//! A direct model of ∇ₓ log p. It need not be a gradient field (its Jacobian need not be
//! symmetric), has no energy and no normalising constant; score matching fits it all the
//! same, and Langevin dynamics samples with it.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Activation, Field, Mlp, Model, ParamSpec, check_batch, check_params};
use crate::error::Result;

/// An MLP score network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpScore {
    /// Data dimension D.
    pub dim: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
}

impl MlpScore {
    fn mlp(&self) -> Mlp {
        Mlp {
            input: self.dim,
            hidden: self.hidden.clone(),
            output: self.dim,
            activation: self.activation,
        }
    }
}

impl Model for MlpScore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        self.mlp().param_specs("")
    }

    fn field(&self, params: &[Tensor], x: &Tensor, _sigma: Option<&Tensor>) -> Result<Field> {
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        Ok(Field::Score(self.mlp().forward(params, x)))
    }
}
