//! Gaussian energy with a full precision matrix, for closed-form checks.
//!
//! f(x) = ½ (x − μ)ᵀ P (x − μ) with P = L Lᵀ and L lower triangular (`precision_tril`), so
//! P is positive semi-definite for any parameter value. The normalised log-density is
//! log p(x) = −f(x) − (D/2) log 2π + Σᵢ log |Lᵢᵢ|, since log det P = 2 Σᵢ log |Lᵢᵢ|.
//! The score is −P (x − μ); its Jacobian is the constant −P.

use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{Field, Init, Model, ParamSpec, check_batch, check_params};
use crate::error::Result;

/// A Gaussian energy parameterised by its mean and a lower-triangular precision factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianEnergy {
    /// Data dimension D.
    pub dim: usize,
}

impl GaussianEnergy {
    /// The masked factor L = tril(A) and the centred, whitened batch (x − μ)·L.
    fn whiten(&self, params: &[Tensor], x: &Tensor) -> Result<(Tensor, Tensor)> {
        let d = self.dim;
        let mask: Vec<f64> = (0..d * d).map(|i| if i % d <= i / d { 1.0 } else { 0.0 }).collect();
        let mask = x.graph().literal(&mask, &[d, d], x.dtype())?;
        let l = &params[1] * mask;
        Ok((l.clone(), (x - &params[0]).matmul(&l)))
    }

    /// f(x) = ½‖(x − μ)·L‖² per sample, and L.
    fn energy(&self, params: &[Tensor], x: &Tensor) -> Result<(Tensor, Tensor)> {
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        let (l, w) = self.whiten(params, x)?;
        Ok((0.5 * w.square().sum(&[-1]), l))
    }
}

impl Model for GaussianEnergy {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec { name: "mean".into(), shape: vec![self.dim], init: Init::Zeros },
            ParamSpec {
                name: "precision_tril".into(),
                shape: vec![self.dim, self.dim],
                init: Init::Identity,
            },
        ]
    }

    fn field(&self, params: &[Tensor], x: &Tensor, _sigma: Option<&Tensor>) -> Result<Field> {
        Ok(Field::Energy(self.energy(params, x)?.0))
    }

    fn log_density(&self, params: &[Tensor], x: &Tensor) -> Option<Result<Tensor>> {
        Some((|| {
            let (f, l) = self.energy(params, x)?;
            let eye = x.graph().literal(&identity(self.dim), &[self.dim, self.dim], x.dtype())?;
            let log_det_half = (l * eye).sum(&[-1]).abs().log().sum_all();
            let c = -0.5 * self.dim as f64 * (2.0 * std::f64::consts::PI).ln();
            Ok(-f + (log_det_half + c))
        })())
    }

    fn has_log_density(&self) -> bool {
        true
    }
}

/// Row-major D×D identity.
pub(crate) fn identity(d: usize) -> Vec<f64> {
    (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect()
}
