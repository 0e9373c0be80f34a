//! Objectives of a model linear in closed-form coefficients ([`ClosedForm`], dkef's α).
//!
//! With log p̃ = Σₗ αₗ kₗ + log q₀, the score is s = Kα + s₀ (K = [∇ₓk₁ … ∇ₓk_M], D × M
//! per row; s₀ = ∇ₓ log q₀) and ∇ₓs = Σₗ αₗ ∇ₓ²kₗ + ∇ₓ²log q₀. Each objective is then a
//! quadratic in α, L(α) = ½αᵀGα + bᵀα + c, means over rows:
//!
//! | objective | G | b |
//! |---|---|---|
//! | `esm` | KᵀK | tr ∇ₓ²kₗ + Kᵀs₀ |
//! | `ssm` | uuᵀ, u = Kᵀv | vᵀ∇ₓ²kₗ v + u·(vᵀs₀) |
//! | `ssm-vr` | KᵀK | vᵀ∇ₓ²kₗ v + Kᵀs₀ |
//! | `dsm` (at x̃ = x + σz) | σ⁴·KᵀK | σ⁴·Kᵀ(s₀ + z/σ) |
//!
//! (DSM's σ⁴ is the official code's scaling, ½‖σ²s + σz‖², which sets the scale λ is
//! measured against.) With the ridge ½λ‖α‖², the minimiser is α = −(G + λI)⁻¹b.
//!
//! The per-basis terms come from the objectives' own machinery: the batch replicated M
//! times, row block l paired with kₗ ([`ClosedForm::paired_basis`]), is a "field" whose
//! score rows are the columns of K and whose trace / directional terms are the kₗ terms
//! of b — computed exactly as the loss computes them for any model.

use scorematch_graph::{DType, Tensor, grad, jvp};

use super::{FieldFn, NoiseInput, Objective, directional_and_score, replicate};
use crate::error::{ConfigError, Error, Result};
use crate::model::{ClosedForm, Field, Model};

/// The closed-form statistics of an objective on its own graph: G and b as means over a
/// chunk of rows, for accumulating over the training set.
#[derive(Debug, Clone)]
pub struct SystemGraph {
    /// Parameter inputs, in the model's order.
    pub params: Vec<Tensor>,
    /// The rows (chunk, D).
    pub x: Tensor,
    /// Random inputs of the objective for the chunk.
    pub noise: Vec<NoiseInput>,
    /// G (M × M), mean over the chunk.
    pub gram: Tensor,
    /// b (M), mean over the chunk.
    pub linear: Tensor,
}

impl Objective {
    /// G (M × M) and b (M) of this objective on rows `x` with its random inputs `noise`
    /// (as [`Objective::loss`] takes them), as a quadratic in the closed-form coefficients
    /// of `cf` (see the module docs). Errors for ms-dsm and mle, which do not apply.
    pub fn alpha_system(
        &self,
        cf: &dyn ClosedForm,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
    ) -> Result<(Tensor, Tensor)> {
        let m = cf.basis_size();
        let (rows, v, dsm) = match self {
            Objective::Esm { .. } => (x.clone(), None, None),
            Objective::Ssm { n_projections, .. } | Objective::SsmVr { n_projections, .. } => {
                (replicate(x, *n_projections), Some(&noise[0]), None)
            }
            Objective::Dsm { sigma } => {
                let z = &noise[0];
                (x + z * *sigma, None, Some((*sigma, z / *sigma)))
            }
            Objective::MsDsm { .. } | Objective::Mle => {
                return Err(Error::InvalidArgument(format!(
                    "{} has no closed form for a kernel exponential family: use esm, ssm, \
                     ssm-vr or dsm",
                    self.name()
                )));
            }
        };
        let (r0, d) = (rows.shape()[0], rows.shape()[1]);
        let s0 =
            grad(&cf.base_log_density(&rows).sum_all(), std::slice::from_ref(&rows))?.remove(0);
        let xb = replicate(&rows, m);
        let basis = |input: &Tensor, _: Option<&Tensor>| -> Result<Field> {
            Ok(Field::Energy(-cf.paired_basis(params, input, r0)?))
        };
        let basis: &FieldFn = &basis;
        let (second, k) = match v {
            Some(v) => {
                let (vjv, k) = directional_and_score(basis, &xb, &replicate(v, m))?;
                (Some(vjv), k)
            }
            None if dsm.is_none() => {
                let (trace, k) = trace_and_score(basis, &xb)?;
                (Some(trace), k)
            }
            None => (None, basis(&xb, None)?.score(&xb)?),
        };
        let n = r0 as f64;
        let second = second.map(|t| t.reshape(&[m, r0]).sum(&[-1]));
        let flat = k.reshape(&[m, r0 * d]);
        let (gram, linear) = match (self, v) {
            (Objective::Ssm { .. }, Some(v)) => {
                let u = (k.reshape(&[m, r0, d]) * v.reshape(&[1, r0, d])).sum(&[-1]);
                let vs0 = (v * &s0).sum(&[-1]).reshape(&[r0, 1]);
                (u.matmul(&u.mt()), u.matmul(&vs0).reshape(&[m]))
            }
            _ => {
                let target = match &dsm {
                    Some((_, zs)) => &s0 + zs,
                    None => s0.clone(),
                };
                (flat.matmul(&flat.mt()), flat.matmul(&target.reshape(&[r0 * d, 1])).reshape(&[m]))
            }
        };
        let linear = match second {
            Some(t) => linear + t,
            None => linear,
        };
        let w = dsm.map_or(1.0, |(sigma, _)| sigma.powi(4)) / n;
        Ok((gram * w, linear * w))
    }

    /// The training loss of a closed-form model: α from the first ⌊B/2⌋ rows of the batch
    /// (and their share of every noise tensor), the loss on the remaining rows.
    pub(super) fn fitted_loss(
        &self,
        cf: &dyn ClosedForm,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
        directions: Option<&Tensor>,
    ) -> Result<Tensor> {
        let b = x.shape()[0];
        let h = b / 2;
        if h == 0 {
            return Err(ConfigError::new(
                "train.batch_size",
                b,
                "a dkef batch is split in two (α fitted on one half, the loss on the other): \
                 use at least 2 rows",
            )
            .into());
        }
        // Each noise tensor holds `copies` blocks of B rows, one per projection.
        let part = |t: &Tensor, lo: usize, hi: usize| {
            let (rows, last) = (t.shape()[0], t.shape()[1]);
            let copies = rows / b;
            t.reshape(&[copies, b, last]).narrow(1, lo, hi).reshape(&[copies * (hi - lo), last])
        };
        let fit_noise: Vec<Tensor> = noise.iter().map(|t| part(t, 0, h)).collect();
        let loss_noise: Vec<Tensor> = noise.iter().map(|t| part(t, h, b)).collect();
        let (gram, linear) = self.alpha_system(cf, params, &x.narrow(0, 0, h), &fit_noise)?;
        let field = |input: &Tensor, _: Option<&Tensor>| {
            cf.field_from_system(params, &gram, &linear, input)
        };
        self.score_loss(&field, &x.narrow(0, h, b), &loss_noise, directions)
    }

    /// [`Objective::alpha_system`] of `model` on its own graph for chunks of `chunk` rows.
    /// Errors when the model has no closed-form part.
    pub fn build_system(
        &self,
        model: &dyn Model,
        chunk: usize,
        dtype: DType,
    ) -> Result<SystemGraph> {
        self.validate(model)?;
        let cf = model.closed_form().ok_or_else(|| {
            Error::InvalidArgument("the model has no part solved in closed form".into())
        })?;
        let (_, params, x, noise) = self.inputs(model, chunk, dtype);
        let tensors: Vec<Tensor> = noise.iter().map(|n| n.tensor.clone()).collect();
        let (gram, linear) = self.alpha_system(cf, &params, &x, &tensors)?;
        Ok(SystemGraph { params, x, noise, gram, linear })
    }
}

/// tr ∇ₓs(x) and s(x) per row of `x` (B, D): the batch replicated D times, all D·B
/// directional derivatives along the basis vectors in one jvp of the score.
fn trace_and_score(field: &FieldFn, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let (b, d) = (x.shape()[0], x.shape()[1]);
    let xr = replicate(x, d);
    let s = field(&xr, None)?.score(&xr)?;
    let basis: Vec<f64> =
        (0..d * b * d).map(|i| if (i / (b * d)) == i % d { 1.0 } else { 0.0 }).collect();
    let e = x.graph().literal(&basis, &[d * b, d], x.dtype())?;
    let je = jvp(&[s.clone()], &[xr.clone()], &[e.clone()])?.remove(0);
    let trace = (e * je).sum(&[-1]).reshape(&[d, b]).sum(&[0]);
    Ok((trace, s.narrow(0, 0, b)))
}
