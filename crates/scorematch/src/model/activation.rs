//! Hidden-layer activations. Score matching differentiates the model in x twice more, so
//! activations must be smooth (ELU is only C¹: its second derivative jumps at 0, harmless
//! almost everywhere but worth knowing for exact SM): ReLU's zero second derivative makes vᵀ∇²f v vanish, which is
//! why it is not offered.

use scorematch_graph::Tensor;

crate::names::named_enum! {
    /// A smooth activation function.
    pub enum Activation: "activation" {
        /// ln(1 + eˣ).
        Softplus = "softplus",
        /// tanh x.
        Tanh = "tanh",
        /// x·σ(x), also called SiLU.
        Swish = "swish" | "silu",
        /// x for x > 0, eˣ − 1 otherwise.
        Elu = "elu",
    }
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
}
