//! Models: functions that build their graph from their parameters.
//!
//! A model is either an **energy** f_θ: ℝᴰ → ℝ (density ∝ exp(−f_θ), score s = −∇ₓf_θ) or a
//! **score network** s_θ: ℝᴰ → ℝᴰ. [`Model::field`] builds whichever it is, for a batch
//! `x` of shape (B, D), on the graph of the given parameter tensors; objectives, samplers
//! and evaluators only ever see the resulting [`Field`], so every objective works for every
//! model the maths allows.
//!
//! Parameters are plain tensors named and shaped as PyTorch would (`layers.{i}.weight` of
//! shape \[out, in\], `layers.{i}.bias` of shape \[out\]), so checkpoints load into
//! `torch.nn.Linear` stacks unchanged.

mod activation;
pub(crate) mod compiled;
mod dkef;
mod gaussian;
mod mlp;
mod mlp_energy;
mod mlp_score;
mod ncsn;
mod nice;

pub use activation::Activation;
pub use compiled::CompiledField;
pub use dkef::{DKEF_BASE_STD, Dkef};
pub use gaussian::GaussianEnergy;
pub(crate) use gaussian::identity;
pub use mlp::Mlp;
pub use mlp_energy::MlpEnergy;
pub use mlp_score::MlpScore;
pub use ncsn::NoiseConditionalScore;
pub use nice::{Nice, check_couplings};

use rand::rngs::StdRng;
use rand::{Rng, RngExt};
use scorematch_graph::{DType, Tensor, grad};
use serde::{Deserialize, Serialize};

use crate::data::Rows;
use crate::error::{ConfigError, Error, Result};
use crate::memory::{self, MemoryNeed};

/// What a model computes for a batch.
#[derive(Debug, Clone)]
pub enum Field {
    /// Per-sample energies f(x_b), shape (B,). The score is −∇ₓf.
    Energy(Tensor),
    /// Per-sample scores s(x_b), shape (B, D).
    Score(Tensor),
}

impl Field {
    /// The score s(x) = ∇ₓ log p(x): −∇ₓ Σ_b f(x_b) for an energy (rows do not interact,
    /// so this is each sample's own gradient), the output itself for a score network.
    pub fn score(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Field::Energy(f) => Ok(-grad(&f.sum_all(), std::slice::from_ref(x))?.remove(0)),
            Field::Score(s) => Ok(s.clone()),
        }
    }

    /// The energy, when the model has one.
    pub fn energy(&self) -> Option<&Tensor> {
        match self {
            Field::Energy(f) => Some(f),
            Field::Score(_) => None,
        }
    }
}

/// How a parameter is initialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// U(−bound, bound): PyTorch's `nn.Linear` default, bound = 1/√fan_in for weight and bias.
    Uniform(f64),
    /// All zeros.
    Zeros,
    /// A constant.
    Constant(f64),
    /// The identity matrix (square parameters).
    Identity,
}

/// A parameter's name, shape and initialiser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// PyTorch-style name, e.g. `layers.0.weight`.
    pub name: String,
    /// Shape; linear weights are \[out, in\].
    pub shape: Vec<usize>,
    /// Initialiser.
    pub init: Init,
}

impl ParamSpec {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of elements, `None` when the product overflows `usize` (absurd sizes, which
    /// [`ModelConfig::check_memory`] refuses before anything is built).
    pub fn checked_numel(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Draws initial values.
    pub fn initialize(&self, rng: &mut impl Rng) -> Vec<f64> {
        let n = self.numel();
        match self.init {
            Init::Uniform(b) => (0..n).map(|_| rng.random_range(-b..=b)).collect(),
            Init::Zeros => vec![0.0; n],
            Init::Constant(c) => vec![c; n],
            Init::Identity => {
                let d = self.shape.first().copied().unwrap_or(0);
                (0..n).map(|i| if i / d.max(1) == i % d.max(1) { 1.0 } else { 0.0 }).collect()
            }
        }
    }
}

crate::names::named_enum! {
    /// A model family (the `kind` of a [`ModelConfig`]).
    pub enum ModelKind: "model kind" {
        /// MLP energy f(x) plus an optional Gaussian base term; density ∝ exp(−f).
        MlpEnergy = "mlp-energy",
        /// MLP score network s(x) (no density).
        MlpScore = "mlp-score",
        /// Noise-conditional score network s(x, σ), trained with ms-dsm.
        NcsnScore = "ncsn-score",
        /// NICE flow: exact density.
        Nice = "nice",
        /// Full-covariance Gaussian: exact density.
        Gaussian = "gaussian",
        /// Deep kernel exponential family, its kernel weights α solved in closed form.
        Dkef = "dkef",
    }
}

impl ModelKind {
    /// Whether the model is built of MLPs set by hidden widths and an activation (dkef's
    /// feature networks have their own fixed shape and a width).
    pub fn has_mlp(self) -> bool {
        !matches!(self, ModelKind::Gaussian | ModelKind::Dkef)
    }

    /// Whether the model needs a noise level (see [`Model::is_noise_conditional`]).
    pub fn is_noise_conditional(self) -> bool {
        self == ModelKind::NcsnScore
    }

    /// Whether the model has a closed-form normalised density (see
    /// [`Model::has_log_density`]).
    pub fn has_log_density(self) -> bool {
        matches!(self, ModelKind::Nice | ModelKind::Gaussian)
    }
}

/// A model's complete configuration: enough to rebuild it (stored in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// [`MlpEnergy`].
    MlpEnergy(MlpEnergy),
    /// [`MlpScore`].
    MlpScore(MlpScore),
    /// [`NoiseConditionalScore`].
    NcsnScore(NoiseConditionalScore),
    /// [`Nice`].
    Nice(Nice),
    /// [`GaussianEnergy`].
    Gaussian(GaussianEnergy),
    /// [`Dkef`].
    Dkef(Dkef),
}

/// What every model offers.
pub trait Model: std::fmt::Debug {
    /// Data dimension D.
    fn dim(&self) -> usize;

    /// The parameters, in the order [`Model::field`] expects them.
    fn param_specs(&self) -> Vec<ParamSpec>;

    /// Builds the model's field for a batch `x` (B, D). `sigma` (B, 1) is the noise level
    /// of noise-conditional models and must be `None` for the others.
    fn field(&self, params: &[Tensor], x: &Tensor, sigma: Option<&Tensor>) -> Result<Field>;

    /// The normalised log-density log p(x_b), shape (B,), for models that have it in closed
    /// form (flows, Gaussians); `None` otherwise.
    fn log_density(&self, _params: &[Tensor], _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }

    /// Whether [`Model::field`] is an energy (so MALA, likelihoods and density plots apply).
    /// A closed-form density implies one.
    fn has_energy(&self) -> bool {
        self.has_log_density()
    }

    /// Whether [`Model::log_density`] exists (closed-form normalised density).
    fn has_log_density(&self) -> bool {
        false
    }

    /// Whether the model needs a noise level (noise-conditional score networks).
    fn is_noise_conditional(&self) -> bool {
        false
    }

    /// Whether the field at a row depends on that row alone (and the parameters), never on
    /// other rows of the batch. Then a batch's loss — a mean of per-row losses for every
    /// objective — can be computed in slices of rows side by side and summed
    /// ([`crate::train::CompiledLoss`] does with several threads). A model that couples
    /// rows (a statistic or a solve over the batch) must say `false`.
    fn rows_independent(&self) -> bool {
        true
    }

    /// Whether exp(−f) is integrable by construction (a base term, a flow, a Gaussian).
    /// A closed-form density implies it.
    fn is_normalizable(&self) -> bool {
        self.has_log_density()
    }

    /// The standard deviation σ of N(0, σ²I), the importance proposal of log Z for this
    /// model when it has a better one than the generic proposal (a base density that bounds
    /// the importance weights); `None`: the generic one.
    fn importance_std(&self) -> Option<f64> {
        None
    }

    /// The part of the model solved in closed form from data rather than trained by
    /// gradient (dkef's α), if any.
    fn closed_form(&self) -> Option<&dyn ClosedForm> {
        None
    }

    /// Sets parameters that start from the training rows (in model coordinates), after
    /// [`ModelConfig::init_params`]: dkef's inducing points. Does nothing for most models.
    fn init_from_data(
        &self,
        _params: &mut [Vec<f64>],
        _train: &dyn Rows,
        _rng: &mut StdRng,
    ) -> Result<()> {
        Ok(())
    }
}

/// A model whose log-density is linear in coefficients α over a basis of M functions,
/// log p̃(x) = Σₗ αₗ kₗ(x) + log q₀(x), with α solved in closed form: every score-matching
/// loss is then a quadratic ½αᵀGα + bᵀα + c, whose G and b the objective computes
/// ([`crate::objective::Objective::alpha_system`]) from what this trait gives.
pub trait ClosedForm {
    /// M, the number of basis functions.
    fn basis_size(&self) -> usize;

    /// The basis at rows `x` (rows, D): kₗ(x_r) for every row r and basis function l,
    /// shape (rows, M). Rows must not interact (row r's values depend on x_r alone), so
    /// that derivatives in x along per-row directions are each row's own.
    fn basis(&self, params: &[Tensor], x: &Tensor) -> Result<Tensor>;

    /// log q₀ per row, (rows,).
    fn base_log_density(&self, x: &Tensor) -> Tensor;

    /// The model's field with α solved from the statistics G (`gram`, M × M) and b
    /// (`linear`, M) and the model's ridge λ: α = −(G + λI)⁻¹b.
    fn field_from_system(
        &self,
        params: &[Tensor],
        gram: &Tensor,
        linear: &Tensor,
        x: &Tensor,
    ) -> Result<Field>;

    /// The positions in [`Model::param_specs`] of the stored G and b: statistics written by
    /// a fit over the training rows, not trained by gradient.
    fn system_params(&self) -> [usize; 2];
}

impl ModelConfig {
    /// The model as a trait object.
    pub fn model(&self) -> &dyn Model {
        match self {
            ModelConfig::MlpEnergy(m) => m,
            ModelConfig::MlpScore(m) => m,
            ModelConfig::NcsnScore(m) => m,
            ModelConfig::Nice(m) => m,
            ModelConfig::Gaussian(m) => m,
            ModelConfig::Dkef(m) => m,
        }
    }

    /// The model family.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelConfig::MlpEnergy(_) => ModelKind::MlpEnergy,
            ModelConfig::MlpScore(_) => ModelKind::MlpScore,
            ModelConfig::NcsnScore(_) => ModelKind::NcsnScore,
            ModelConfig::Nice(_) => ModelKind::Nice,
            ModelConfig::Gaussian(_) => ModelKind::Gaussian,
            ModelConfig::Dkef(_) => ModelKind::Dkef,
        }
    }

    /// The family's name.
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }

    /// Checks the sizes and settings: D ≥ 1, one or more hidden layers none of width 0, a
    /// positive finite base σ₀, NICE's own constraints.
    pub fn validate(&self) -> Result<()> {
        let dim = self.model().dim();
        if dim == 0 {
            return Err(ConfigError::new(
                "model.dim",
                dim,
                "the data must have at least one column",
            )
            .into());
        }
        match self {
            ModelConfig::MlpEnergy(m) => {
                check_hidden(&m.hidden)?;
                check_base_sigma(m.base_sigma.unwrap_or(f64::INFINITY))?;
            }
            ModelConfig::MlpScore(MlpScore { hidden, .. })
            | ModelConfig::NcsnScore(NoiseConditionalScore { hidden, .. }) => check_hidden(hidden)?,
            ModelConfig::Nice(n) => {
                check_hidden(&n.hidden)?;
                n.validate()?;
            }
            ModelConfig::Gaussian(_) => {}
            ModelConfig::Dkef(m) => m.validate()?,
        }
        Ok(())
    }

    /// Refuses a model whose parameters do not fit in this machine's memory
    /// ([`crate::memory`]): [`ModelConfig::init_params`] draws N parameters in `f64` and a
    /// model keeps them at `dtype`, N·(8 + size of `dtype`) bytes. The error names
    /// `model.hidden` (the Gaussian's D² parameters: `model.kind`).
    pub fn check_memory(&self, dtype: DType) -> Result<(), ConfigError> {
        let bytes = memory::param_count(self.model())
            .map_or(u64::MAX, |n| memory::elements(n, 8 + memory::dtype_bytes(dtype)));
        let need = MemoryNeed::new().add("parameters", bytes);
        self.refuse_beyond(&need, "initialising the model")
    }

    /// Refuses `need` ([`MemoryNeed::check`]) on the setting that sizes this model:
    /// `model.hidden`, or `model.kind` for the Gaussian (D² parameters for D columns).
    pub(crate) fn refuse_beyond(&self, need: &MemoryNeed, doing: &str) -> Result<(), ConfigError> {
        match self {
            ModelConfig::Gaussian(g) => need.check(
                doing,
                "model.kind",
                ModelKind::Gaussian,
                &format!(
                    "a full-covariance gaussian has D² parameters for the data's D = {} columns; \
                     choose another model.kind or fewer columns",
                    g.dim
                ),
            ),
            ModelConfig::Dkef(m) => need.check(
                doing,
                "model.inducing_points",
                m.inducing_points,
                "lower model.inducing_points or model.width",
            ),
            _ => need.check(
                doing,
                "model.hidden",
                self.hidden()
                    .unwrap_or_default()
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                "lower model.hidden",
            ),
        }
    }

    /// The hidden widths of a model built of MLPs.
    fn hidden(&self) -> Option<&[usize]> {
        match self {
            ModelConfig::MlpEnergy(MlpEnergy { hidden, .. })
            | ModelConfig::MlpScore(MlpScore { hidden, .. })
            | ModelConfig::NcsnScore(NoiseConditionalScore { hidden, .. })
            | ModelConfig::Nice(Nice { hidden, .. }) => Some(hidden),
            ModelConfig::Gaussian(_) | ModelConfig::Dkef(_) => None,
        }
    }

    /// Initial parameter values (PyTorch defaults for linear layers), seeded.
    pub fn init_params(&self, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        self.model().param_specs().iter().map(|s| s.initialize(rng)).collect()
    }
}

/// Hidden widths: one or more layers, none of width 0.
pub fn check_hidden(hidden: &[usize]) -> Result<(), ConfigError> {
    if hidden.is_empty() || hidden.contains(&0) {
        return Err(ConfigError::new(
            "model.hidden",
            format!("{hidden:?}"),
            "needs one or more positive widths, e.g. [64, 64]",
        ));
    }
    Ok(())
}

/// The MLP energy's base scale σ₀: positive, or infinite for no base term.
pub fn check_base_sigma(sigma: f64) -> Result<(), ConfigError> {
    if sigma > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new("model.base_sigma", sigma, "must be positive (inf: no base term)"))
    }
}

/// Checks that `params` match `specs` in count and shape.
pub(crate) fn check_params(specs: &[ParamSpec], params: &[Tensor]) -> Result<()> {
    if specs.len() != params.len() {
        return Err(Error::Shape(format!(
            "model expects {} parameter tensors, got {}",
            specs.len(),
            params.len()
        )));
    }
    for (s, p) in specs.iter().zip(params) {
        if s.shape != p.shape() {
            return Err(Error::Shape(format!(
                "parameter {} has shape {:?}, expected {:?}",
                s.name,
                p.shape(),
                s.shape
            )));
        }
    }
    Ok(())
}

/// Checks that `x` is a (B, D) batch.
pub(crate) fn check_batch(dim: usize, x: &Tensor) -> Result<()> {
    if x.rank() != 2 || x.shape()[1] != dim {
        return Err(Error::Shape(format!(
            "model input must be (batch, {dim}), got {:?}",
            x.shape()
        )));
    }
    Ok(())
}
