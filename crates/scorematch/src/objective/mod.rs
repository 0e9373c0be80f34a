//! Score-matching objectives, for energies and for score networks where the maths allows.
//!
//! With s = ∇ₓ log p_θ (= −∇ₓf for an energy) and J = ∇ₓs (= −∇ₓ²f, symmetric for an
//! energy), per sample, averaged over the batch (definitions as in the PyTorch/JAX
//! fixtures' `convention` block):
//!
//! | objective | per-sample loss |
//! |---|---|
//! | `esm` (Hyvärinen 2005) | tr J + ½‖s‖² |
//! | `ssm` (Song et al. 2019) | vᵀJv + ½(vᵀs)², E\[vvᵀ\] = I |
//! | `ssm-vr` | vᵀJv + ½‖s‖² |
//! | `dsm` (Vincent 2011) | ½‖s(x + σz) + z/σ‖², z ~ N(0, I) |
//! | `ms-dsm` (NCSN) | λ(σ)·½‖s(x + σz, σ) + z/σ‖² with λ(σ) = σ², σ from a geometric ladder |
//! | `mle` | −log p(x) (flows and Gaussians) |
//!
//! Conventions users trip over: the score is +∇ₓ log p = −∇ₓf; DSM's target is −z/σ =
//! −(x̃ − x)/σ²; unit-sphere projections are rescaled to norm √D so that E\[vvᵀ\] = I and
//! sliced SM is unbiased for exact SM with no 1/D factor.
//!
//! Jv is a Jacobian-vector product of the score: one jvp for a score network — never D
//! reverse passes. For an energy, sliced SM needs no reverse pass in x at all: vᵀJv =
//! −vᵀ∇²f v and vᵀs = −∇f·v are the second- and first-order terms of f's forward jet along
//! v (the forward Laplacian with the one direction v), which shares the primal sweep and
//! costs about three forward passes where forward-over-reverse (a jvp of the gradient) costs
//! about four; sliced SM-VR's ½‖s‖² needs the whole gradient, and its reverse sweep gives
//! vᵀJv too: Σ_b vᵀ∇²f_b v is the adjoints of that sweep paired with the jet's curvature
//! sources ([`scorematch_graph::summed_laplacian`]), three passes where forward-over-reverse
//! costs four (an MLP layer: 9 products in the training gradient instead of 12). A score
//! network's vᵀJv is one jvp of s along v. M projections per sample
//! replicate the batch M times so all M·B directional derivatives are one batched sweep.
//! Exact SM's trace is a forward Laplacian over chunks of the D basis directions, its
//! memory bounded by the chunk (`exact.rs`).

mod closed_form;
mod exact;
mod noise;

pub use closed_form::{FittedGraphs, SystemGraph};
pub use exact::{DirectionChunks, Directions};
pub use noise::{NoiseDist, NoiseInput, Projection};

use scorematch_graph::{DType, Graph, Tensor, jvp, laplacian, summed_laplacian};
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error, Result};
use crate::memory;
use crate::model::{Field, Model, identity};

/// A model's field as a function of its input rows and, for noise-conditional models, the
/// noise level: what the score-matching losses are written against.
type FieldFn<'a> = dyn Fn(&Tensor, Option<&Tensor>) -> Result<Field> + 'a;

crate::names::named_enum! {
    /// Which objective (the `kind` of an [`Objective`]).
    pub enum ObjectiveKind: "objective" {
        /// Exact score matching (a forward Laplacian over the D input directions).
        Esm = "esm",
        /// Sliced score matching.
        Ssm = "ssm",
        /// Variance-reduced sliced score matching.
        SsmVr = "ssm-vr" | "ssm_vr",
        /// Denoising score matching at one noise level.
        Dsm = "dsm",
        /// Multi-scale denoising score matching (ncsn-score).
        MsDsm = "ms-dsm" | "ms_dsm",
        /// Maximum likelihood (nice, gaussian).
        Mle = "mle",
    }
}

impl ObjectiveKind {
    /// Whether the objective draws projections (sliced score matching).
    pub fn is_sliced(self) -> bool {
        matches!(self, ObjectiveKind::Ssm | ObjectiveKind::SsmVr)
    }
}

/// A training objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Objective {
    /// Exact score matching, over the D input directions in chunks of `chunk`.
    Esm {
        /// Directions per chunk (≥ 1; clamped to D), of the trace and of a closed-form
        /// model's statistics: peak memory grows with it, speed too until products are
        /// large. `None`: [`crate::memory::esm_chunk`], from the bytes a direction needs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunk: Option<usize>,
    },
    /// Sliced score matching with M projections per sample.
    Ssm {
        /// Distribution of v.
        projection: Projection,
        /// Projections per sample (M ≥ 1).
        n_projections: usize,
    },
    /// Variance-reduced sliced score matching (½‖s‖² in closed form).
    SsmVr {
        /// Distribution of v.
        projection: Projection,
        /// Projections per sample (M ≥ 1).
        n_projections: usize,
    },
    /// Denoising score matching at one noise level.
    Dsm {
        /// Noise standard deviation σ > 0.
        sigma: f64,
    },
    /// Multi-scale denoising score matching over a geometric σ ladder, λ(σ) = σ².
    MsDsm {
        /// Smallest σ.
        sigma_min: f64,
        /// Largest σ.
        sigma_max: f64,
        /// Number of levels (≥ 1).
        levels: usize,
    },
    /// Maximum likelihood (models with a closed-form normalised density).
    Mle,
}

/// A loss on its own graph: parameters, batch and noise inputs, and the scalar loss.
#[derive(Debug, Clone)]
pub struct LossGraph {
    /// The graph.
    pub graph: Graph,
    /// Parameter inputs, in the model's order.
    pub params: Vec<Tensor>,
    /// The data batch input (B, D).
    pub x: Tensor,
    /// Random inputs, drawn afresh for every evaluation.
    pub noise: Vec<NoiseInput>,
    /// Exact SM's chunk of input directions: the loss is then one chunk's part, to be summed
    /// over [`DirectionChunks::parts`] evaluations (`CompiledLoss` does).
    pub directions: Option<Directions>,
    /// The scalar loss (mean over the batch).
    pub loss: Tensor,
}

impl Objective {
    /// The rows the loss passes through the model, each a fixed number of times, for a
    /// batch of `batch` rows: sliced SM's M replicated copies of the batch (`score_loss`),
    /// the batch itself for the others; `None` for exact SM, whose passes per row grow
    /// with D (its tangents) instead.
    pub(crate) fn rows_through_model(&self, batch: usize) -> Option<usize> {
        match self {
            Objective::Esm { .. } => None,
            Objective::Ssm { n_projections, .. } | Objective::SsmVr { n_projections, .. } => {
                Some(batch * n_projections)
            }
            _ => Some(batch),
        }
    }

    /// Which objective this is.
    pub fn kind(&self) -> ObjectiveKind {
        match self {
            Objective::Esm { .. } => ObjectiveKind::Esm,
            Objective::Ssm { .. } => ObjectiveKind::Ssm,
            Objective::SsmVr { .. } => ObjectiveKind::SsmVr,
            Objective::Dsm { .. } => ObjectiveKind::Dsm,
            Objective::MsDsm { .. } => ObjectiveKind::MsDsm,
            Objective::Mle => ObjectiveKind::Mle,
        }
    }

    /// The objective's name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The σ ladder of `ms-dsm`: σᵢ = σ_max·(σ_min/σ_max)^(i/(L−1)), largest first.
    pub fn sigma_ladder(sigma_min: f64, sigma_max: f64, levels: usize) -> Vec<f64> {
        if levels <= 1 {
            return vec![sigma_max];
        }
        let ratio = sigma_min / sigma_max;
        (0..levels).map(|i| sigma_max * ratio.powf(i as f64 / (levels - 1) as f64)).collect()
    }

    /// Checks the objective's own parameters and that it suits `model`.
    pub fn validate(&self, model: &dyn Model) -> Result<()> {
        Ok(self.validate_for(model.is_noise_conditional(), model.has_log_density())?)
    }

    /// Checks the objective's own parameters and that it suits a model that is (or is not)
    /// noise-conditional and has (or has not) a closed-form density.
    pub fn validate_for(
        &self,
        noise_conditional: bool,
        has_log_density: bool,
    ) -> Result<(), ConfigError> {
        match *self {
            Objective::Ssm { n_projections, .. } | Objective::SsmVr { n_projections, .. } => {
                ConfigError::at_least_one("objective.n_projections", n_projections)?;
            }
            Objective::Dsm { sigma } => ConfigError::positive("objective.sigma", sigma)?,
            Objective::MsDsm { sigma_min, sigma_max, levels } => {
                ConfigError::positive("objective.sigma_min", sigma_min)?;
                ConfigError::positive("objective.sigma_max", sigma_max)?;
                if sigma_max < sigma_min {
                    return Err(ConfigError::new(
                        "objective.sigma_max",
                        sigma_max,
                        format!("must be at least objective.sigma_min ({sigma_min})"),
                    ));
                }
                ConfigError::at_least_one("objective.levels", levels)?;
            }
            Objective::Esm { chunk } => {
                if let Some(c) = chunk {
                    ConfigError::at_least_one("objective.esm_chunk", c)?;
                }
            }
            Objective::Mle => {}
        }
        let kind = self.kind();
        let refuse = |why: &str| Err(ConfigError::new("objective.kind", kind, why));
        match self {
            Objective::MsDsm { .. } if !noise_conditional => {
                refuse("trains a noise-conditional score network: use model.kind ncsn-score")
            }
            Objective::MsDsm { .. } => Ok(()),
            _ if noise_conditional => {
                refuse("a noise-conditional score network is trained with objective.kind ms-dsm")
            }
            Objective::Mle if !has_log_density => {
                refuse("needs a model with a closed-form density: use model.kind nice or gaussian")
            }
            _ => Ok(()),
        }
    }

    /// The random inputs the loss needs for a batch of `batch` rows of dimension `dim`.
    pub(crate) fn noise_specs(
        &self,
        batch: usize,
        dim: usize,
    ) -> Vec<(&'static str, Vec<usize>, NoiseDist)> {
        match self {
            Objective::Ssm { projection, n_projections }
            | Objective::SsmVr { projection, n_projections } => {
                vec![("v", vec![n_projections * batch, dim], NoiseDist::Projection(*projection))]
            }
            Objective::Dsm { .. } => vec![("z", vec![batch, dim], NoiseDist::Gaussian)],
            Objective::MsDsm { sigma_min, sigma_max, levels } => vec![
                ("z", vec![batch, dim], NoiseDist::Gaussian),
                (
                    "sigma",
                    vec![batch, 1],
                    NoiseDist::Ladder(Self::sigma_ladder(*sigma_min, *sigma_max, *levels)),
                ),
            ],
            Objective::Esm { .. } | Objective::Mle => vec![],
        }
    }

    /// Builds the loss of `model` as it stands ([`Objective::loss`]) on a fresh graph, for
    /// batches of `batch` rows: what evaluation measures.
    pub fn build(&self, model: &dyn Model, batch: usize, dtype: DType) -> Result<LossGraph> {
        self.build_as(model, batch, dtype, false)
    }

    /// Builds the training loss of `model` ([`Objective::training_loss`]) on a fresh graph,
    /// for batches of `batch` rows.
    pub fn build_training(
        &self,
        model: &dyn Model,
        batch: usize,
        dtype: DType,
    ) -> Result<LossGraph> {
        self.build_as(model, batch, dtype, true)
    }

    fn build_as(
        &self,
        model: &dyn Model,
        batch: usize,
        dtype: DType,
        training: bool,
    ) -> Result<LossGraph> {
        self.validate(model)?;
        let (g, params, x, noise) = self.inputs(model, batch, dtype);
        let tensors: Vec<Tensor> = noise.iter().map(|n| n.tensor.clone()).collect();
        let directions = match *self {
            Objective::Esm { .. } => {
                let d = model.dim();
                // A training loss with a closed-form part builds α's system over all D
                // directions in this one program (chunked, it is built by
                // `Objective::build_fitted` instead): chunking only its loss would repeat
                // that work.
                let whole = training && model.closed_form().is_some();
                let c = if whole { d } else { self.direction_chunk(model, batch, dtype) };
                Some(g.input("directions", &[c, d], dtype))
            }
            _ => None,
        };
        let e = directions.as_ref();
        let loss = self.loss_as(model, &params, &x, &tensors, e, training)?;
        let directions = directions.map(|tensor| Directions { tensor });
        Ok(LossGraph { graph: g, params, x, noise, directions, loss })
    }

    /// Input directions per chunk, in [1, D], for exact SM's trace and for a closed-form
    /// model's statistics over directions: `esm_chunk` when set (exact SM), else
    /// [`memory::esm_chunk`] for `model` at `batch` rows in `dtype`.
    pub fn direction_chunk(&self, model: &dyn Model, batch: usize, dtype: DType) -> usize {
        let set = match *self {
            Objective::Esm { chunk } => chunk,
            _ => None,
        };
        set.unwrap_or_else(|| memory::esm_chunk(model, batch, dtype)).clamp(1, model.dim())
    }

    /// A fresh graph with the inputs of a loss on `rows` rows: the model's parameters, the
    /// batch x and the objective's random inputs.
    fn inputs(
        &self,
        model: &dyn Model,
        rows: usize,
        dtype: DType,
    ) -> (Graph, Vec<Tensor>, Tensor, Vec<NoiseInput>) {
        let g = Graph::new();
        let params: Vec<Tensor> =
            model.param_specs().iter().map(|s| g.input(&s.name, &s.shape, dtype)).collect();
        let x = g.input("x", &[rows, model.dim()], dtype);
        let noise: Vec<NoiseInput> = self
            .noise_specs(rows, model.dim())
            .into_iter()
            .map(|(name, shape, dist)| NoiseInput { tensor: g.input(name, &shape, dtype), dist })
            .collect();
        (g, params, x, noise)
    }

    /// The loss a training step takes: [`Objective::loss`], except for a model with a part
    /// solved in closed form ([`Model::closed_form`], dkef's α), whose batch is split — α
    /// fitted on its first ⌊B/2⌋ rows ([`Objective::alpha_system`]), the loss taken on the
    /// others — so that the gradient sees how θ moves the fit, as the official DKEF code
    /// trains (the fit on rows the loss also scores would reward overfitting α).
    pub fn training_loss(
        &self,
        model: &dyn Model,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
    ) -> Result<Tensor> {
        self.loss_as(model, params, x, noise, None, true)
    }

    /// The loss of `model` on batch `x` given its random inputs `noise` (in the order of
    /// [`Objective::build`]'s `noise`: v for sliced SM; z for DSM; z, σ for ms-dsm). Exact
    /// SM takes all D directions in one chunk here.
    pub fn loss(
        &self,
        model: &dyn Model,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
    ) -> Result<Tensor> {
        self.loss_as(model, params, x, noise, None, false)
    }

    /// [`Objective::training_loss`] when `training`, else [`Objective::loss`], with exact SM
    /// along `directions` (c, D), rows of the identity (all D when `None`).
    fn loss_as(
        &self,
        model: &dyn Model,
        params: &[Tensor],
        x: &Tensor,
        noise: &[Tensor],
        directions: Option<&Tensor>,
        training: bool,
    ) -> Result<Tensor> {
        self.check_noise(model, x, noise)?;
        if let Some(cf) = model.closed_form().filter(|_| training) {
            return self.fitted_loss(cf, params, x, noise, directions);
        }
        if let Objective::Mle = self {
            let lp = model.log_density(params, x).ok_or_else(|| {
                Error::InvalidArgument("mle needs a model with a closed-form density".into())
            })??;
            return Ok(-lp.mean_all());
        }
        let field = |input: &Tensor, sigma: Option<&Tensor>| model.field(params, input, sigma);
        self.score_loss(&field, x, noise, directions)
    }

    fn check_noise(&self, model: &dyn Model, x: &Tensor, noise: &[Tensor]) -> Result<()> {
        let expected = self.noise_specs(x.shape().first().copied().unwrap_or(0), model.dim()).len();
        if noise.len() != expected {
            return Err(Error::Shape(format!(
                "{} needs {expected} noise tensors (see Objective::build), got {}",
                self.name(),
                noise.len()
            )));
        }
        Ok(())
    }

    /// The score-matching loss of `field` on batch `x` with its random inputs `noise`
    /// (every objective but mle, which needs the density itself); exact SM along
    /// `directions` (c, D), all D when `None`.
    fn score_loss(
        &self,
        field: &FieldFn,
        x: &Tensor,
        noise: &[Tensor],
        directions: Option<&Tensor>,
    ) -> Result<Tensor> {
        match self {
            Objective::Ssm { n_projections, .. } | Objective::SsmVr { n_projections, .. } => {
                let v = &noise[0];
                let xr = replicate(x, *n_projections);
                let value = field(&xr, None)?;
                if let Field::Energy(f) = &value {
                    let (rows, along) = (v.shape()[0], v.reshape(&[1, v.shape()[0], v.shape()[1]]));
                    let xr = std::slice::from_ref(&xr);
                    if let Objective::Ssm { .. } = self {
                        // vᵀJv = −vᵀ∇²f v, vᵀs = −∇f·v: f's forward jet along v (module docs).
                        let jet = laplacian(std::slice::from_ref(f), xr, &[along])?.remove(0);
                        let vs = jet.tangents.reshape(&[rows]);
                        return Ok((-jet.laplacian + 0.5 * vs.square()).mean_all());
                    }
                    // Σ_b vᵀJv = −Σ_b vᵀ∇²f v by the adjoints of ∇f's own sweep (module docs).
                    let summed = summed_laplacian(f, xr, &[along])?;
                    let half_s2 = 0.5 * summed.grads[0].square().sum(&[-1]);
                    return Ok(half_s2.mean_all() - summed.laplacian / rows as f64);
                }
                // vᵀJv by one jvp of the score along v (a score network).
                let s = value.score(&xr)?;
                let jv = jvp(
                    std::slice::from_ref(&s),
                    std::slice::from_ref(&xr),
                    std::slice::from_ref(v),
                )?
                .remove(0);
                let vjv = (v * jv).sum(&[-1]);
                let second = match self {
                    Objective::Ssm { .. } => (v * &s).sum(&[-1]).square(),
                    _ => s.square().sum(&[-1]),
                };
                Ok((vjv + 0.5 * second).mean_all())
            }
            Objective::Esm { .. } => {
                let d = x.shape()[1];
                let e = match directions {
                    Some(e) => e.clone(),
                    None => x.graph().literal(&identity(d), &[d, d], x.dtype())?,
                };
                exact::chunk_loss(field, x, &e)
            }
            Objective::Dsm { sigma } => {
                let z = &noise[0];
                let xt = x + z * *sigma;
                let s = field(&xt, None)?.score(&xt)?;
                Ok((0.5 * (s + z / *sigma).square().sum(&[-1])).mean_all())
            }
            Objective::MsDsm { .. } => {
                let (z, sigma) = (&noise[0], &noise[1]);
                let xt = x + z * sigma;
                let s = field(&xt, Some(sigma))?.score(&xt)?;
                Ok((0.5 * (s * sigma + z).square().sum(&[-1])).mean_all())
            }
            Objective::Mle => {
                Err(Error::InvalidArgument("mle needs the model's closed-form density".into()))
            }
        }
    }
}

/// A compiled loss's inputs in feeding order — the parameters, the batch, the random
/// inputs — to which a chunked loss appends its chunk of directions (and a closed-form
/// step its statistics or adjoints).
pub(crate) fn program_inputs(params: &[Tensor], x: &Tensor, noise: &[NoiseInput]) -> Vec<Tensor> {
    let mut inputs = params.to_vec();
    inputs.push(x.clone());
    inputs.extend(noise.iter().map(|n| n.tensor.clone()));
    inputs
}

/// The batch stacked `m` times: (m·B, D), copy k in rows k·B..(k+1)·B.
fn replicate(x: &Tensor, m: usize) -> Tensor {
    let (b, d) = (x.shape()[0], x.shape()[1]);
    x.reshape(&[1, b, d]).broadcast_to(&[m, b, d]).reshape(&[m * b, d])
}
