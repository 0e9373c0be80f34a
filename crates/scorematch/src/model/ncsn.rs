//! Noise-conditional score network: s_θ(x, σ) = MLP_θ([x, log σ]) / σ.
//!
//! The network sees the noise level through log σ appended to its input, and its output is
//! divided by σ (NCSNv2's parameterisation): the true score of data perturbed by N(0, σ²I)
//! has magnitude ≈ 1/σ, so the MLP itself only learns an O(1) quantity at every level.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Activation, Field, Mlp, Model, ParamSpec, check_batch, check_params};
use crate::error::{Error, Result};

/// A noise-conditional score network for multi-scale denoising score matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseConditionalScore {
    /// Data dimension D.
    pub dim: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
}

impl NoiseConditionalScore {
    fn mlp(&self) -> Mlp {
        Mlp {
            input: self.dim + 1,
            hidden: self.hidden.clone(),
            output: self.dim,
            activation: self.activation,
        }
    }
}

impl Model for NoiseConditionalScore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        self.mlp().param_specs("")
    }

    fn field(&self, params: &[Tensor], x: &Tensor, sigma: Option<&Tensor>) -> Result<Field> {
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        let sigma = sigma.ok_or_else(|| {
            Error::InvalidArgument(
                "a noise-conditional score network needs a noise level σ; train it with ms-dsm"
                    .into(),
            )
        })?;
        let b = x.shape()[0];
        if sigma.shape() != [b, 1] {
            return Err(Error::Shape(format!(
                "σ must be (batch, 1) = [{b}, 1], got {:?}",
                sigma.shape()
            )));
        }
        let input = scorematch_graph::Tensor::concat(&[x.clone(), sigma.log()], 1);
        Ok(Field::Score(self.mlp().forward(params, &input) / sigma))
    }

    fn is_noise_conditional(&self) -> bool {
        true
    }
}
