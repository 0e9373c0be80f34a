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
//! **All M basis functions at once.** The model gives its basis as one (rows × M) tensor,
//! kₗ(x_r) for every row and basis function ([`ClosedForm::basis`]: for dkef, the feature
//! network run once on the rows and once on the inducing points, each kernel's exponent one
//! (rows × (width + 2))·((width + 2) × M) product, then exp). Its derivatives in x come from
//! one forward sweep of the forward Laplacian ([`scorematch_graph::laplacian`]), with
//! directions of shape (c, rows, D) so that every row gets its own c directions at once
//! (rows do not interact in the basis):
//!
//! - `esm`, `ssm-vr`, `dsm`: the D basis directions e_d in every row; the tangents
//!   (D, rows, M) are K for every row (∂kₗ/∂x_d), the Laplacian (rows, M) is tr ∇ₓ²kₗ
//!   (used by `esm`; for the others it is never compiled: nothing reads it);
//! - `ssm`, and `ssm-vr`'s vᵀ∇ₓ²kₗ v: the row's own projection v as the single direction
//!   (1, rows, D); its tangent is u = Kᵀv and its Laplacian vᵀ∇ₓ²kₗ v.
//!
//! G is then a contraction of K with itself over (d, r), (D·rows × M)ᵀ(D·rows × M), and
//! Kᵀs₀ a product with the target stacked the same way. The feature network sees the rows
//! once with c tangents each; the earlier route replicated the batch M times (row block l
//! paired with kₗ), then D times more for exact SM's trace: B·M·D rows through the
//! network and the kernels (220 000 at M = 200, D = 11, B = 100) where this takes
//! B·D tangent rows through the network and B·M·D entries of elementwise kernel work.

use scorematch_graph::{DType, Jet, Tensor, grad, laplacian};

use super::{NoiseInput, Objective, replicate};
use crate::error::{ConfigError, Error, Result};
use crate::model::{ClosedForm, Model, identity};

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
        // The rows the statistics are means over, and the objective's factor (σ⁴ for dsm).
        let (rows, scale) = match self {
            Objective::Esm { .. } => (x.clone(), 1.0),
            Objective::Ssm { n_projections, .. } | Objective::SsmVr { n_projections, .. } => {
                (replicate(x, *n_projections), 1.0)
            }
            Objective::Dsm { sigma } => (x + &noise[0] * *sigma, sigma.powi(4)),
            Objective::MsDsm { .. } | Objective::Mle => {
                return Err(Error::InvalidArgument(format!(
                    "{} has no closed form for a kernel exponential family: use esm, ssm, \
                     ssm-vr or dsm",
                    self.name()
                )));
            }
        };
        let (r, d, m) = (rows.shape()[0], rows.shape()[1], cf.basis_size());
        let s0 =
            grad(&cf.base_log_density(&rows).sum_all(), std::slice::from_ref(&rows))?.remove(0);
        let k = cf.basis(params, &rows)?;
        let jet = |directions: Tensor| -> Result<Jet> {
            Ok(laplacian(std::slice::from_ref(&k), std::slice::from_ref(&rows), &[directions])?
                .remove(0))
        };
        // The D basis directions in every row, (D, rows, D).
        let units = || -> Result<Tensor> {
            let e = rows.graph().literal(&identity(d), &[d, 1, d], rows.dtype())?;
            Ok(e.broadcast_to(&[d, r, d]))
        };
        // The row's projection as its single direction, (1, rows, D).
        let along_v = || noise[0].reshape(&[1, r, d]);
        // From K (D, rows, M): Gₗₗ′ = Σ_{d,r} K_{drl}·K_{drl′} and (Kᵀt)ₗ = Σ_{d,r} K_{drl}·t_{rd}
        // for a target t (rows, D).
        let full = |k: &Tensor, target: &Tensor| {
            let flat = k.reshape(&[d * r, m]);
            let t = target.mt().reshape(&[d * r, 1]);
            (flat.mt().matmul(&flat), flat.mt().matmul(&t).reshape(&[m]))
        };
        let (gram, linear) = match self {
            Objective::Ssm { .. } => {
                let j = jet(along_v())?;
                let u = j.tangents.reshape(&[r, m]);
                let vs0 = (&noise[0] * &s0).sum(&[-1]).reshape(&[r, 1]);
                (u.mt().matmul(&u), u.mt().matmul(&vs0).reshape(&[m]) + j.laplacian.sum(&[0]))
            }
            Objective::SsmVr { .. } => {
                let (g, kts0) = full(&jet(units()?)?.tangents, &s0);
                (g, kts0 + jet(along_v())?.laplacian.sum(&[0]))
            }
            Objective::Dsm { sigma } => full(&jet(units()?)?.tangents, &(&s0 + &noise[0] / *sigma)),
            _ => {
                let j = jet(units()?)?;
                let (g, kts0) = full(&j.tangents, &s0);
                (g, kts0 + j.laplacian.sum(&[0]))
            }
        };
        let w = scale / r as f64;
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
