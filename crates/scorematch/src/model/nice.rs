//! NICE flow (Dinh, Krueger & Bengio 2014): additive couplings and a diagonal scale over a
//! standard normal base.
//!
//! x is split into x_a = x[.., :⌊D/2⌋] and x_b = x[.., ⌊D/2⌋:]. Coupling k adds an MLP of
//! one half to the other, alternating: even k: x_b ← x_b + m_k(x_a); odd k: x_a ← x_a +
//! m_k(x_b) (volume preserving, Jacobian determinant 1). Then h = exp(s) ⊙ x. With a
//! standard normal base, the exact log-density is
//! log p(x) = −½‖h‖² − (D/2) log 2π + Σᵢ sᵢ, and the energy is f = −log p (normalised).

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Activation, Field, Init, Mlp, Model, ParamSpec, check_batch, check_params};
use crate::error::{ConfigError, Result};

/// A NICE flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nice {
    /// Data dimension D (≥ 2).
    pub dim: usize,
    /// Number of coupling layers (≥ 2 so both halves are transformed).
    pub couplings: usize,
    /// Hidden widths of each coupling's MLP.
    pub hidden: Vec<usize>,
    /// Activation of the coupling MLPs.
    pub activation: Activation,
}

/// NICE's coupling count: at least 2, so that both halves are transformed.
pub fn check_couplings(couplings: usize) -> Result<(), ConfigError> {
    if couplings >= 2 {
        Ok(())
    } else {
        Err(ConfigError::new(
            "model.couplings",
            couplings,
            "must be at least 2 so that both halves are transformed",
        ))
    }
}

impl Nice {
    fn split(&self) -> usize {
        self.dim / 2
    }

    /// Coupling k's MLP: from the conditioning half to the transformed half.
    fn coupling(&self, k: usize) -> Mlp {
        let (a, b) = (self.split(), self.dim - self.split());
        let (input, output) = if k.is_multiple_of(2) { (a, b) } else { (b, a) };
        Mlp { input, hidden: self.hidden.clone(), output, activation: self.activation }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.dim < 2 {
            return Err(ConfigError::new(
                "model.dim",
                self.dim,
                "nice needs data with at least 2 columns (it transforms one half given the other)",
            )
            .into());
        }
        check_couplings(self.couplings)?;
        Ok(())
    }

    /// log p(x) per sample.
    fn log_p(&self, params: &[Tensor], x: &Tensor) -> Result<Tensor> {
        self.validate()?;
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        let a = self.split();
        let (mut xa, mut xb) = (x.narrow(1, 0, a), x.narrow(1, a, self.dim));
        let mut offset = 0;
        for k in 0..self.couplings {
            let m = self.coupling(k);
            let p = &params[offset..offset + m.num_params()];
            offset += m.num_params();
            if k.is_multiple_of(2) {
                xb = &xb + m.forward(p, &xa);
            } else {
                xa = &xa + m.forward(p, &xb);
            }
        }
        let s = &params[offset];
        let h = Tensor::concat(&[xa, xb], 1) * s.exp();
        let c = -0.5 * self.dim as f64 * (2.0 * std::f64::consts::PI).ln();
        Ok(-0.5 * h.square().sum(&[-1]) + (s.sum_all() + c))
    }
}

impl Model for Nice {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        let mut specs: Vec<ParamSpec> = (0..self.couplings)
            .flat_map(|k| self.coupling(k).param_specs(&format!("couplings.{k}.")))
            .collect();
        specs.push(ParamSpec { name: "scale".into(), shape: vec![self.dim], init: Init::Zeros });
        specs
    }

    fn field(&self, params: &[Tensor], x: &Tensor, _sigma: Option<&Tensor>) -> Result<Field> {
        Ok(Field::Energy(-self.log_p(params, x)?))
    }

    fn log_density(&self, params: &[Tensor], x: &Tensor) -> Option<Result<Tensor>> {
        Some(self.log_p(params, x))
    }

    fn has_log_density(&self) -> bool {
        true
    }
}
