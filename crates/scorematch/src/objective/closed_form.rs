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
//!
//! **In chunks of directions.** Those B·M·D entries are the step's memory: 1.7 GB for
//! sliced SM-VR and 4.9 GB for exact SM at D = 1024 when every direction is in one
//! program. But the terms over the D directions (G = Σ_{d,r} KKᵀ and its b, the trace)
//! are sums over chunks of directions, G = Σₖ Gₖ, so a training step
//! ([`Objective::build_fitted`], run by `train/fitted.rs`) takes them in three passes over
//! chunks of c directions, each pass one compiled program fed one chunk at a time:
//!
//! 1. **statistics**: Gₖ, bₖ of the fit half, summed into G, b;
//! 2. **loss**: α = −(G + R + λI)⁻¹(b + r) (R, r: the terms not over directions, ssm-vr's
//!    vᵀ∇ₓ²kₗv, computed in this program so that their gradient is its own), the loss on
//!    the other half (for exact SM, its part over the chunk's directions: run once per
//!    chunk and summed; else run once), with ∂loss/∂θ and the adjoints Ḡ = ∂loss/∂G and
//!    b̄ = ∂loss/∂b;
//! 3. **pullback**: ∂(⟨Ḡ, Gₖ⟩ + ⟨b̄, bₖ⟩)/∂θ per chunk, a vector-Jacobian product of pass 1
//!    with (Ḡ, b̄) as its cotangents, added to the gradient: the chain rule through
//!    G = Σₖ Gₖ, with α's dependence on G and b differentiated once, in pass 2.
//!
//! The memory is one chunk's (c·B·M entries), the fit half's forward sweep runs twice
//! (passes 1 and 3) and the solve once per loss run; with one chunk the single program of
//! [`Objective::fitted_loss`] does the same work once, so it is used whenever one chunk
//! holds every direction. The refit over the training rows (`train/system.rs`) chunks the
//! directions of [`Objective::build_system`] the same way.

use scorematch_graph::{DType, Jet, Tensor, grad, laplacian, vjp};

use super::{Directions, NoiseInput, Objective, replicate};
use crate::error::{ConfigError, Error, Result};
use crate::model::{ClosedForm, Model, identity};

/// The closed-form statistics of an objective on its own graph, for accumulating G and b
/// over the training set in chunks of rows and, where they are sums over the D input
/// directions, in chunks of directions.
#[derive(Debug, Clone)]
pub struct SystemGraph {
    /// Parameter inputs, in the model's order.
    pub params: Vec<Tensor>,
    /// The rows (chunk, D).
    pub x: Tensor,
    /// Random inputs of the objective for the chunk.
    pub noise: Vec<NoiseInput>,
    /// The chunk of directions the `along` terms are taken over (esm, ssm-vr, dsm).
    pub directions: Option<Directions>,
    /// The terms of (G, b) over the chunk's directions, means over the rows.
    pub along: Option<(Tensor, Tensor)>,
    /// The other terms of (G, b) (ssm's whole system, ssm-vr's vᵀ∇ₓ²kₗv), means over the
    /// rows.
    pub rest: Option<(Tensor, Tensor)>,
}

/// A closed-form model's training loss with α's statistics computed in chunks of input
/// directions (see the module docs), on one graph whose programs a trainer compiles
/// apart: every program is fed the parameters, the batch, its noise and one chunk of
/// directions.
#[derive(Debug, Clone)]
pub struct FittedGraphs {
    /// Parameter inputs, in the model's order.
    pub params: Vec<Tensor>,
    /// The batch (B, D): α fitted on its first ⌊B/2⌋ rows, the loss on the others.
    pub x: Tensor,
    /// Random inputs of the objective for the batch.
    pub noise: Vec<NoiseInput>,
    /// The chunk of input directions (c, D).
    pub directions: Directions,
    /// Gₖ and bₖ: the fit half's statistics over the chunk's directions.
    pub system_part: (Tensor, Tensor),
    /// Inputs: Σₖ Gₖ and Σₖ bₖ over every chunk.
    pub system: (Tensor, Tensor),
    /// The loss with α solved from `system` (and the terms of G and b not over
    /// directions): for esm, the part of the loss over the chunk's directions.
    pub loss: Tensor,
    /// Whether `loss` depends on the chunk (esm: summed over the chunks; else one run).
    pub loss_over_directions: bool,
    /// Inputs: the adjoints Ḡ = ∂loss/∂G and b̄ = ∂loss/∂b, summed over the loss's runs.
    pub adjoint: (Tensor, Tensor),
    /// ∂⟨Ḡ, Gₖ⟩ + ⟨b̄, bₖ⟩/∂θ for every parameter: the chunk's share of the loss gradient
    /// through α's statistics.
    pub pullback: Vec<Tensor>,
}

/// The basis at the rows α's statistics are means over, and the terms every objective
/// shares.
struct SystemBasis {
    /// The rows (replicated once per projection for the sliced objectives).
    rows: Tensor,
    /// kₗ at the rows, (rows, M).
    k: Tensor,
    /// s₀ = ∇ₓ log q₀ at the rows, (rows, D).
    s0: Tensor,
    /// The objective's factor over the rows' count (σ⁴/rows for dsm, 1/rows else).
    weight: f64,
}

impl SystemBasis {
    /// f's forward jet (tangents and Laplacian) along per-row `directions` (c, rows, D).
    fn jet(&self, directions: Tensor) -> Result<Jet> {
        let (k, rows) = (&self.k, &self.rows);
        Ok(laplacian(std::slice::from_ref(k), std::slice::from_ref(rows), &[directions])?.remove(0))
    }

    /// The row's projection v as its single direction, (1, rows, D).
    fn along_v(&self, v: &Tensor) -> Tensor {
        v.reshape(&[1, v.shape()[0], v.shape()[1]])
    }
}

impl Objective {
    /// Whether α's statistics hold sums over the D input directions of every row (esm,
    /// ssm-vr and dsm: G = mean KᵀK needs K along every direction), computable in chunks of
    /// directions.
    pub fn system_over_directions(&self) -> bool {
        matches!(self, Objective::Esm { .. } | Objective::SsmVr { .. } | Objective::Dsm { .. })
    }

    /// G (M × M) and b (M) of this objective on rows `x` with its random inputs `noise`
    /// (as [`Objective::loss`] takes them), as a quadratic in the closed-form coefficients
    /// of `cf` (see the module docs), all D directions at once. Errors for ms-dsm and mle,
    /// which do not apply.
    pub fn alpha_system(
        &self,
        cf: &dyn ClosedForm,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
    ) -> Result<(Tensor, Tensor)> {
        let basis = self.system_basis(cf, params, x, noise)?;
        let d = x.shape()[1];
        let along = if self.system_over_directions() {
            let e = x.graph().literal(&identity(d), &[d, d], x.dtype())?;
            Some(self.system_along(&basis, noise, &e)?)
        } else {
            None
        };
        let rest = self.system_rest(&basis, noise)?;
        Ok(match (along, rest) {
            (Some((g, b)), Some((gr, br))) => (g + gr, b + br),
            (Some(system), None) | (None, Some(system)) => system,
            (None, None) => unreachable!("every objective with a closed form has a system"),
        })
    }

    /// The basis and s₀ at the rows the statistics of this objective are means over.
    fn system_basis(
        &self,
        cf: &dyn ClosedForm,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
    ) -> Result<SystemBasis> {
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
        let s0 =
            grad(&cf.base_log_density(&rows).sum_all(), std::slice::from_ref(&rows))?.remove(0);
        let k = cf.basis(params, &rows)?;
        let weight = scale / rows.shape()[0] as f64;
        Ok(SystemBasis { rows, k, s0, weight })
    }

    /// The terms of (G, b) that are sums over the D input directions, over the chunk `e`
    /// (c, D) of directions (rows of the identity, zero rows adding nothing): with the
    /// tangents K_e = ∂k/∂x·e (c, rows, M) of every row along every direction of the chunk,
    /// G_e = Σ_{e,r} K_e K_eᵀ and b_e = Σ_{e,r} K_e (eᵀt_r) for the objective's target t
    /// (s₀, or s₀ + z/σ for dsm), plus the Laplacian's part Σ_e eᵀ∇ₓ²kₗ e for esm.
    fn system_along(
        &self,
        basis: &SystemBasis,
        noise: &[Tensor],
        e: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (r, d, m) = (basis.rows.shape()[0], basis.rows.shape()[1], basis.k.shape()[1]);
        let c = e.shape()[0];
        let jet = basis.jet(e.reshape(&[c, 1, d]).broadcast_to(&[c, r, d]))?;
        let target = match self {
            Objective::Dsm { sigma } => &basis.s0 + &noise[0] / *sigma,
            _ => basis.s0.clone(),
        };
        // K flattened over (direction, row) against the target along each direction.
        let flat = jet.tangents.reshape(&[c * r, m]);
        let t = target.matmul(&e.mt()).mt().reshape(&[c * r, 1]);
        let gram = flat.mt().matmul(&flat);
        let mut linear = flat.mt().matmul(&t).reshape(&[m]);
        if let Objective::Esm { .. } = self {
            linear = linear + jet.laplacian.sum(&[0]);
        }
        Ok((gram * basis.weight, linear * basis.weight))
    }

    /// The terms of (G, b) that are not over the input directions: for ssm, all of them
    /// (u = Kᵀv: G = Σ_r uuᵀ, b = Σ_r u(vᵀs₀) + vᵀ∇ₓ²kₗv); for ssm-vr, b's vᵀ∇ₓ²kₗv (G's
    /// part zero); none for esm and dsm.
    fn system_rest(
        &self,
        basis: &SystemBasis,
        noise: &[Tensor],
    ) -> Result<Option<(Tensor, Tensor)>> {
        let (r, m) = (basis.rows.shape()[0], basis.k.shape()[1]);
        let (gram, linear) = match self {
            Objective::Ssm { .. } => {
                let j = basis.jet(basis.along_v(&noise[0]))?;
                let u = j.tangents.reshape(&[r, m]);
                let vs0 = (&noise[0] * &basis.s0).sum(&[-1]).reshape(&[r, 1]);
                (u.mt().matmul(&u), u.mt().matmul(&vs0).reshape(&[m]) + j.laplacian.sum(&[0]))
            }
            Objective::SsmVr { .. } => {
                let lap = basis.jet(basis.along_v(&noise[0]))?.laplacian.sum(&[0]);
                let zero = basis.rows.graph().literal(&vec![0.0; m * m], &[m, m], lap.dtype())?;
                (zero, lap)
            }
            _ => return Ok(None),
        };
        Ok(Some((gram * basis.weight, linear * basis.weight)))
    }

    /// Each noise tensor of a batch of `b` rows cut to rows `lo..hi` of the batch (a noise
    /// tensor holds `copies` blocks of B rows, one per projection).
    fn noise_rows(noise: &[Tensor], b: usize, lo: usize, hi: usize) -> Vec<Tensor> {
        noise
            .iter()
            .map(|t| {
                let (rows, last) = (t.shape()[0], t.shape()[1]);
                let copies = rows / b;
                t.reshape(&[copies, b, last]).narrow(1, lo, hi).reshape(&[copies * (hi - lo), last])
            })
            .collect()
    }

    /// `model`'s closed-form part, after checking that this objective applies to `model`;
    /// errors when it has none.
    fn closed_form_of<'m>(&self, model: &'m dyn Model) -> Result<&'m dyn ClosedForm> {
        self.validate(model)?;
        model.closed_form().ok_or_else(|| {
            Error::InvalidArgument("the model has no part solved in closed form".into())
        })
    }

    /// The rows α is fitted on, ⌊B/2⌋, for a training batch of `b` rows; errors below 2.
    fn fit_rows(b: usize) -> Result<usize> {
        if b < 2 {
            return Err(ConfigError::new(
                "train.batch_size",
                b,
                "a dkef batch is split in two (α fitted on one half, the loss on the other): \
                 use at least 2 rows",
            )
            .into());
        }
        Ok(b / 2)
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
        let h = Self::fit_rows(b)?;
        let fit_noise = Self::noise_rows(noise, b, 0, h);
        let loss_noise = Self::noise_rows(noise, b, h, b);
        let (gram, linear) = self.alpha_system(cf, params, &x.narrow(0, 0, h), &fit_noise)?;
        let field = |input: &Tensor, _: Option<&Tensor>| {
            cf.field_from_system(params, &gram, &linear, input)
        };
        self.score_loss(&field, &x.narrow(0, h, b), &loss_noise, directions)
    }

    /// The training loss that fits α over the batch, with α's statistics in chunks of
    /// `chunk` input directions, for batches of `batch` rows (see the module docs). Errors
    /// when the model has no closed-form part or the objective's statistics are not over
    /// directions ([`Objective::system_over_directions`]).
    pub fn build_fitted(
        &self,
        model: &dyn Model,
        batch: usize,
        chunk: usize,
        dtype: DType,
    ) -> Result<FittedGraphs> {
        let cf = self.closed_form_of(model)?;
        if !self.system_over_directions() {
            return Err(Error::InvalidArgument(format!(
                "{}'s closed-form statistics are not sums over input directions",
                self.name()
            )));
        }
        let (g, params, x, noise) = self.inputs(model, batch, dtype);
        let (d, m) = (model.dim(), cf.basis_size());
        let h = Self::fit_rows(batch)?;
        let tensors: Vec<Tensor> = noise.iter().map(|n| n.tensor.clone()).collect();
        let e = g.input("directions", &[chunk.clamp(1, d), d], dtype);
        let fit_noise = Self::noise_rows(&tensors, batch, 0, h);
        let fit = self.system_basis(cf, &params, &x.narrow(0, 0, h), &fit_noise)?;
        let (gram_part, linear_part) = self.system_along(&fit, &fit_noise, &e)?;
        let (mut gram, mut linear) =
            (g.input("gram", &[m, m], dtype), g.input("linear", &[m], dtype));
        let system = (gram.clone(), linear.clone());
        if let Some((gr, br)) = self.system_rest(&fit, &fit_noise)? {
            (gram, linear) = (gram + gr, linear + br);
        }
        let field = |input: &Tensor, _: Option<&Tensor>| {
            cf.field_from_system(&params, &gram, &linear, input)
        };
        let loss_noise = Self::noise_rows(&tensors, batch, h, batch);
        let loss = self.score_loss(&field, &x.narrow(0, h, batch), &loss_noise, Some(&e))?;
        let adjoint =
            (g.input("gram_adjoint", &[m, m], dtype), g.input("linear_adjoint", &[m], dtype));
        let pullback = vjp(
            &[gram_part.clone(), linear_part.clone()],
            &[adjoint.0.clone(), adjoint.1.clone()],
            &params,
        )?;
        Ok(FittedGraphs {
            params,
            x,
            noise,
            directions: Directions { tensor: e },
            system_part: (gram_part, linear_part),
            system,
            loss,
            loss_over_directions: matches!(self, Objective::Esm { .. }),
            adjoint,
            pullback,
        })
    }

    /// [`Objective::alpha_system`] of `model` on its own graph for chunks of `rows` rows
    /// and, where the statistics are over directions, of `chunk` directions. Errors when
    /// the model has no closed-form part.
    pub fn build_system(
        &self,
        model: &dyn Model,
        rows: usize,
        chunk: usize,
        dtype: DType,
    ) -> Result<SystemGraph> {
        let cf = self.closed_form_of(model)?;
        let (g, params, x, noise) = self.inputs(model, rows, dtype);
        let tensors: Vec<Tensor> = noise.iter().map(|n| n.tensor.clone()).collect();
        let basis = self.system_basis(cf, &params, &x, &tensors)?;
        let d = model.dim();
        let (directions, along) = if self.system_over_directions() {
            let e = g.input("directions", &[chunk.clamp(1, d), d], dtype);
            let along = self.system_along(&basis, &tensors, &e)?;
            (Some(Directions { tensor: e }), Some(along))
        } else {
            (None, None)
        };
        let rest = self.system_rest(&basis, &tensors)?;
        Ok(SystemGraph { params, x, noise, directions, along, rest })
    }
}
