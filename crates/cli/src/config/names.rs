//! The command line's names for the toolkit's choices (clap value enums that also
//! (de)serialise in `config.toml`), and their conversions to the toolkit's types.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use scorematch::model::Activation;
use scorematch::objective::Projection;
use scorematch_graph::DType;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// MLP energy f(x) plus an optional Gaussian base term; density ∝ exp(−f).
    MlpEnergy,
    /// MLP score network s(x) (no density).
    MlpScore,
    /// Noise-conditional score network s(x, σ), trained with ms-dsm.
    NcsnScore,
    /// NICE flow: exact density.
    Nice,
    /// Full-covariance Gaussian: exact density.
    Gaussian,
}

impl ModelKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::MlpEnergy => "mlp-energy",
            ModelKind::MlpScore => "mlp-score",
            ModelKind::NcsnScore => "ncsn-score",
            ModelKind::Nice => "nice",
            ModelKind::Gaussian => "gaussian",
        }
    }

    /// Whether the model is an MLP with hidden widths and an activation.
    pub(crate) fn has_mlp(self) -> bool {
        self != ModelKind::Gaussian
    }
}

/// A training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectiveKind {
    /// Exact score matching (D Jacobian-vector products per sample).
    Esm,
    /// Sliced score matching.
    Ssm,
    /// Variance-reduced sliced score matching.
    #[value(alias = "ssm_vr")]
    #[serde(alias = "ssm_vr")]
    SsmVr,
    /// Denoising score matching at one noise level.
    Dsm,
    /// Multi-scale denoising score matching (ncsn-score).
    #[value(alias = "ms_dsm")]
    #[serde(alias = "ms_dsm")]
    MsDsm,
    /// Maximum likelihood (nice, gaussian).
    Mle,
}

impl ObjectiveKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ObjectiveKind::Esm => "esm",
            ObjectiveKind::Ssm => "ssm",
            ObjectiveKind::SsmVr => "ssm-vr",
            ObjectiveKind::Dsm => "dsm",
            ObjectiveKind::MsDsm => "ms-dsm",
            ObjectiveKind::Mle => "mle",
        }
    }

    pub(crate) fn is_sliced(self) -> bool {
        matches!(self, ObjectiveKind::Ssm | ObjectiveKind::SsmVr)
    }
}

/// A hidden-layer activation (smooth: score matching differentiates twice more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationName {
    /// ln(1 + eˣ).
    Softplus,
    /// tanh x.
    Tanh,
    /// x·σ(x), also called SiLU.
    #[value(alias = "silu")]
    Swish,
    /// x for x > 0, eˣ − 1 otherwise.
    Elu,
}

impl From<ActivationName> for Activation {
    fn from(a: ActivationName) -> Self {
        match a {
            ActivationName::Softplus => Activation::Softplus,
            ActivationName::Tanh => Activation::Tanh,
            ActivationName::Swish => Activation::Swish,
            ActivationName::Elu => Activation::Elu,
        }
    }
}

/// Distribution of sliced score matching's projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectionName {
    /// v ~ N(0, I).
    Gaussian,
    /// vᵢ = ±1.
    Rademacher,
    /// v uniform on the sphere of radius √D.
    Sphere,
}

impl From<ProjectionName> for Projection {
    fn from(p: ProjectionName) -> Self {
        match p {
            ProjectionName::Gaussian => Projection::Gaussian,
            ProjectionName::Rademacher => Projection::Rademacher,
            ProjectionName::Sphere => Projection::Sphere,
        }
    }
}

/// An optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Stochastic gradient descent (with --momentum).
    Sgd,
    /// Adam.
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
}

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleName {
    /// The same rate throughout.
    Constant,
    /// Linear warmup, then cosine decay to --min-lr.
    Cosine,
    /// Multiply by --lr-gamma every --lr-step-size steps.
    Step,
}

/// Floating-point precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DTypeName {
    /// 32-bit floats (fast).
    F32,
    /// 64-bit floats.
    F64,
}

impl From<DTypeName> for DType {
    fn from(d: DTypeName) -> Self {
        match d {
            DTypeName::F32 => DType::F32,
            DTypeName::F64 => DType::F64,
        }
    }
}
