//! The multilayer perceptron shared by the MLP energy, the MLP score network and the
//! noise-conditional score network.
//!
//! Layer i computes h ← a(h·Wᵢᵀ + bᵢ) with Wᵢ of shape \[out, in\] (PyTorch's `nn.Linear`
//! layout); the last layer has no activation.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Activation, Init, ParamSpec};

/// An MLP's widths and activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Input width.
    pub input: usize,
    /// Hidden widths, first to last.
    pub hidden: Vec<usize>,
    /// Output width.
    pub output: usize,
    /// Hidden activation.
    pub activation: Activation,
}

impl Mlp {
    /// Layer widths, input to output.
    fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.input];
        w.extend(&self.hidden);
        w.push(self.output);
        w
    }

    /// `layers.{i}.weight` \[out, in\] and `layers.{i}.bias` \[out\] for every layer, with
    /// PyTorch's default U(−1/√in, 1/√in) initialisation, names prefixed by `prefix`.
    pub fn param_specs(&self, prefix: &str) -> Vec<ParamSpec> {
        let w = self.widths();
        w.windows(2)
            .enumerate()
            .flat_map(|(i, io)| {
                let bound = 1.0 / (io[0].max(1) as f64).sqrt();
                [
                    ParamSpec {
                        name: format!("{prefix}layers.{i}.weight"),
                        shape: vec![io[1], io[0]],
                        init: Init::Uniform(bound),
                    },
                    ParamSpec {
                        name: format!("{prefix}layers.{i}.bias"),
                        shape: vec![io[1]],
                        init: Init::Uniform(bound),
                    },
                ]
            })
            .collect()
    }

    /// Number of parameter tensors.
    pub fn num_params(&self) -> usize {
        2 * (self.hidden.len() + 1)
    }

    /// Applies the MLP to `x` (B, input) → (B, output); `params` as in [`Mlp::param_specs`].
    pub fn forward(&self, params: &[Tensor], x: &Tensor) -> Tensor {
        let layers = params.len() / 2;
        let mut h = x.clone();
        for i in 0..layers {
            h = h.matmul(&params[2 * i].mt()) + &params[2 * i + 1];
            if i + 1 < layers {
                h = self.activation.apply(&h);
            }
        }
        h
    }
}
