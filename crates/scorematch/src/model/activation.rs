//! Hidden-layer activations. Score matching differentiates the model in x twice more, so
//! activations must be smooth (ELU is only C¹: its second derivative jumps at 0, harmless
//! almost everywhere but worth knowing for exact SM): ReLU's zero second derivative makes vᵀ∇²f v vanish, which is
//! why it is not offered.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A smooth activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// ln(1 + eˣ).
    Softplus,
    /// tanh x.
    Tanh,
    /// x·σ(x) (SiLU).
    Swish,
    /// x for x > 0, eˣ − 1 otherwise.
    Elu,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, h: &Tensor) -> Tensor {
        match self {
            Activation::Softplus => h.softplus(),
            Activation::Tanh => h.tanh(),
            Activation::Swish => h.swish(),
            Activation::Elu => h.elu(),
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Softplus => "softplus",
            Activation::Tanh => "tanh",
            Activation::Swish => "swish",
            Activation::Elu => "elu",
        }
    }

    /// Parses a name (`silu` is accepted for swish).
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "softplus" => Ok(Activation::Softplus),
            "tanh" => Ok(Activation::Tanh),
            "swish" | "silu" => Ok(Activation::Swish),
            "elu" => Ok(Activation::Elu),
            other => Err(Error::InvalidArgument(format!(
                "unknown activation '{other}'; choose one of softplus, tanh, swish, elu"
            ))),
        }
    }
}
