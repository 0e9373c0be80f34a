//! The training run's configuration: a TOML file and flags merged, defaults filled, then
//! checked and turned into the toolkit's types.
//!
//! Three layers, low to high (ripgrep's arrangement):
//!
//! 1. **Raw**: a [`RunConfig`] read from `--config FILE` and another built from the flags.
//!    Every field is optional; `None` means "not said".
//! 2. **Merged and resolved**: [`RunConfig::merge`] lets the flags win field by field, then
//!    [`RunConfig::resolve`] fills what nobody said with defaults (some depend on the model,
//!    e.g. `ncsn-score` trains with `ms-dsm`) and drops values the chosen model, objective or
//!    optimiser does not use (with a note). The result is what `config.toml` in the run
//!    folder holds: every value that matters, so `--config run/config.toml` repeats the run
//!    bit for bit.
//! 3. **Validated**: [`RunConfig::model_config`], [`RunConfig::objective`] and
//!    [`RunConfig::train_config`] build the toolkit's types; impossible values and
//!    combinations are [`UsageError`](crate::error::UsageError)s naming the flag.
//!
//! Where the run is written (`--out`, `--name`) and how chatty it is are not part of the
//! configuration: the same configuration can be run into another folder.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use scorematch::model::{
    Activation, GaussianEnergy, MlpEnergy, MlpScore, ModelConfig, Nice, NoiseConditionalScore,
};
use scorematch::objective::Objective;
use scorematch::optim::{OptimizerKind, Schedule};
use scorematch::sample::{Ladder, SamplerConfig, SamplerKind};
use scorematch::train::TrainConfig;
use scorematch_graph::DType;

use crate::error::usage;

/// Defaults of the values nobody set; chosen so that `scorematch train` with no flags
/// fits eight Gaussians well in a few seconds on two cores.
pub mod defaults {
    /// Built-in dataset.
    pub const DATA: &str = "eight-gaussians";
    /// Samples drawn from a built-in dataset.
    pub const N_SAMPLES: usize = 10_000;
    /// Fraction of the data held out for validation.
    pub const VAL_FRACTION: f64 = 0.1;
    /// Hidden widths.
    pub const HIDDEN: [usize; 2] = [64, 64];
    /// Scale of the MLP energy's Gaussian base term ‖x‖²/(2σ₀²) in standardised
    /// coordinates: wide enough not to shape the fit, enough to make exp(−f) integrable.
    pub const BASE_SIGMA: f64 = 3.0;
    /// Coupling layers of a NICE flow.
    pub const COUPLINGS: usize = 4;
    /// Projections per sample of sliced score matching.
    pub const N_PROJECTIONS: usize = 1;
    /// Noise of denoising score matching (standardised coordinates).
    pub const SIGMA: f64 = 0.1;
    /// Smallest noise of multi-scale DSM.
    pub const SIGMA_MIN: f64 = 0.01;
    /// Largest noise of multi-scale DSM.
    pub const SIGMA_MAX: f64 = 1.0;
    /// Noise levels of multi-scale DSM.
    pub const LEVELS: usize = 10;
    /// Optimisation steps.
    pub const STEPS: usize = 2000;
    /// Rows per batch.
    pub const BATCH_SIZE: usize = 256;
    /// Learning rate.
    pub const LR: f64 = 3e-3;
    /// Steps between validation evaluations.
    pub const EVAL_EVERY: usize = 100;
    /// Langevin chains drawn for the samples plot.
    pub const SAMPLE_N: usize = 1000;
    /// Langevin / MALA steps.
    pub const SAMPLE_STEPS: usize = 500;
    /// Langevin / MALA step size (standardised coordinates).
    pub const SAMPLE_STEP_SIZE: f64 = 2e-3;
    /// Annealed Langevin steps per noise level.
    pub const ANNEALED_STEPS: usize = 100;
    /// Annealed Langevin's ε (the step at the smallest σ).
    pub const ANNEALED_STEP_SIZE: f64 = 2e-5;
}

mod names;

pub use names::*;

/// Where the data comes from and how it is prepared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// A built-in dataset name, a .csv file (header row) or a .npy file.
    pub source: Option<String>,
    /// Samples drawn from a built-in dataset.
    pub n_samples: Option<usize>,
    /// Standardise each column (mean 0, sd 1) before training; the map is saved.
    pub standardize: Option<bool>,
    /// Fraction of rows held out for validation (0 for none).
    pub val_fraction: Option<f64>,
}

/// The model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// The model family.
    pub kind: Option<ModelKind>,
    /// Hidden widths.
    pub hidden: Option<Vec<usize>>,
    /// Hidden activation.
    pub activation: Option<ActivationName>,
    /// Base term scale σ₀ of mlp-energy (`inf`: no base term).
    pub base_sigma: Option<f64>,
    /// Coupling layers of nice.
    pub couplings: Option<usize>,
}

/// The objective.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveSection {
    /// Which objective.
    pub kind: Option<ObjectiveKind>,
    /// Projection distribution (ssm, ssm-vr).
    pub projection: Option<ProjectionName>,
    /// Projections per sample (ssm, ssm-vr).
    pub n_projections: Option<usize>,
    /// Noise σ (dsm).
    pub sigma: Option<f64>,
    /// Smallest σ (ms-dsm).
    pub sigma_min: Option<f64>,
    /// Largest σ (ms-dsm).
    pub sigma_max: Option<f64>,
    /// Noise levels (ms-dsm).
    pub levels: Option<usize>,
}

/// The optimisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Optimisation steps (unless `epochs`).
    pub steps: Option<usize>,
    /// Passes over the training set (instead of `steps`).
    pub epochs: Option<usize>,
    /// Rows per batch.
    pub batch_size: Option<usize>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Optimiser.
    pub optimizer: Option<OptimizerName>,
    /// SGD momentum.
    pub momentum: Option<f64>,
    /// Weight decay (L2 for sgd/adam, decoupled for adamw).
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule.
    pub schedule: Option<ScheduleName>,
    /// Warmup steps of the cosine schedule.
    pub warmup_steps: Option<u64>,
    /// Final rate of the cosine schedule.
    pub min_lr: Option<f64>,
    /// Steps between decays of the step schedule.
    pub lr_step_size: Option<u64>,
    /// Decay factor of the step schedule.
    pub lr_gamma: Option<f64>,
    /// Clip the global gradient norm to this value.
    pub clip_grad_norm: Option<f64>,
    /// Stop after this many validations without improvement.
    pub patience: Option<usize>,
    /// Steps between validations.
    pub eval_every: Option<usize>,
    /// Keep the parameters of the best validation loss rather than the last.
    pub keep_best: Option<bool>,
}

/// The sampler of the samples plot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleSection {
    /// Chains.
    pub n: Option<usize>,
    /// Steps (per noise level for annealed Langevin).
    pub steps: Option<usize>,
    /// Step size (standardised coordinates).
    pub step_size: Option<f64>,
}

/// A training run's configuration; see the module docs for the layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of data sampling, splitting, initialisation, batches and noise.
    pub seed: Option<u64>,
    /// Worker threads of the compiled programs.
    pub threads: Option<usize>,
    /// Precision of training and of the checkpoint.
    pub dtype: Option<DTypeName>,
    /// Whether to draw the PNG figures.
    pub plots: Option<bool>,
    /// Data.
    pub data: DataSection,
    /// Model.
    pub model: ModelSection,
    /// Objective.
    pub objective: ObjectiveSection,
    /// Optimisation.
    pub train: TrainSection,
    /// Sampler of the samples plot.
    pub sample: SampleSection,
}

/// Sets each listed field of `$base` to `$over`'s where `$over` has one.
macro_rules! overlay {
    ($base:expr, $over:expr; $($field:ident),+ $(,)?) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field; } )+
    };
}

/// Clears each listed field that the configuration does not use, noting the ones that were
/// set (`why` says what uses them).
macro_rules! drop_unused {
    ($notes:expr, $section:literal, $s:expr, $why:expr; $($field:ident),+ $(,)?) => {
        $( if $s.$field.take().is_some() {
            $notes.push(format!("ignoring {}.{}: {}", $section, stringify!($field), $why));
        } )+
    };
}

/// Fills `$field` with `$value` when unset.
fn fill<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

impl RunConfig {
    /// Reads a configuration file (TOML). Errors quote the file, line and column.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        Self::from_toml(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> std::result::Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).context("cannot encode the configuration as TOML")
    }

    /// `self` with every field that `over` sets replaced by `over`'s (flags over a file).
    /// Saying `steps` clears `epochs` and the reverse, so a flag can switch between them.
    pub fn merge(mut self, over: &RunConfig) -> RunConfig {
        let o = over.clone();
        overlay!(self, o; seed, threads, dtype, plots);
        overlay!(self.data, o.data; source, n_samples, standardize, val_fraction);
        overlay!(self.model, o.model; kind, hidden, activation, base_sigma, couplings);
        overlay!(self.objective, o.objective;
            kind, projection, n_projections, sigma, sigma_min, sigma_max, levels);
        if o.train.steps.is_some() && o.train.epochs.is_none() {
            self.train.epochs = None;
        }
        overlay!(self.train, o.train;
            steps, epochs, batch_size, lr, optimizer, momentum, weight_decay, schedule,
            warmup_steps, min_lr, lr_step_size, lr_gamma, clip_grad_norm, patience,
            eval_every, keep_best);
        overlay!(self.sample, o.sample; n, steps, step_size);
        self
    }

    /// Fills defaults and drops values the chosen model, objective, optimiser and schedule
    /// do not use; returns notes about the dropped ones. Idempotent: a resolved
    /// configuration resolves to itself with no notes.
    pub fn resolve(mut self) -> (RunConfig, Vec<String>) {
        let mut notes = Vec::new();
        fill(&mut self.seed, 0);
        fill(&mut self.threads, 1);
        fill(&mut self.dtype, DTypeName::F32);
        fill(&mut self.plots, true);

        let d = &mut self.data;
        fill(&mut d.source, defaults::DATA.to_string());
        let builtin = d.source.as_deref().is_some_and(is_builtin_name);
        if builtin {
            fill(&mut d.n_samples, defaults::N_SAMPLES);
        } else {
            drop_unused!(notes, "data", d, "the data is a file, not a built-in"; n_samples);
        }
        fill(&mut d.standardize, true);
        fill(&mut d.val_fraction, defaults::VAL_FRACTION);

        let m = &mut self.model;
        let kind = *m.kind.get_or_insert(ModelKind::MlpEnergy);
        if kind.has_mlp() {
            fill(&mut m.hidden, defaults::HIDDEN.to_vec());
            fill(&mut m.activation, ActivationName::Softplus);
        } else {
            drop_unused!(notes, "model", m, "the gaussian model has no network"; hidden, activation);
        }
        if kind == ModelKind::MlpEnergy {
            fill(&mut m.base_sigma, defaults::BASE_SIGMA);
        } else {
            drop_unused!(notes, "model", m, "only mlp-energy has a base term"; base_sigma);
        }
        if kind == ModelKind::Nice {
            fill(&mut m.couplings, defaults::COUPLINGS);
        } else {
            drop_unused!(notes, "model", m, "only nice has couplings"; couplings);
        }

        let o = &mut self.objective;
        let objective = *o.kind.get_or_insert(match kind {
            ModelKind::NcsnScore => ObjectiveKind::MsDsm,
            _ => ObjectiveKind::SsmVr,
        });
        if objective.is_sliced() {
            fill(&mut o.projection, ProjectionName::Rademacher);
            fill(&mut o.n_projections, defaults::N_PROJECTIONS);
        } else {
            drop_unused!(notes, "objective", o, "used by ssm and ssm-vr only"; projection, n_projections);
        }
        if objective == ObjectiveKind::Dsm {
            fill(&mut o.sigma, defaults::SIGMA);
        } else {
            drop_unused!(notes, "objective", o, "used by dsm only"; sigma);
        }
        if objective == ObjectiveKind::MsDsm {
            fill(&mut o.sigma_min, defaults::SIGMA_MIN);
            fill(&mut o.sigma_max, defaults::SIGMA_MAX);
            fill(&mut o.levels, defaults::LEVELS);
        } else {
            drop_unused!(notes, "objective", o, "used by ms-dsm only"; sigma_min, sigma_max, levels);
        }

        let t = &mut self.train;
        if t.epochs.is_some() {
            drop_unused!(notes, "train", t, "epochs is set"; steps);
        } else {
            fill(&mut t.steps, defaults::STEPS);
        }
        fill(&mut t.batch_size, defaults::BATCH_SIZE);
        fill(&mut t.lr, defaults::LR);
        let optimizer = *t.optimizer.get_or_insert(OptimizerName::Adam);
        if optimizer == OptimizerName::Sgd {
            fill(&mut t.momentum, 0.0);
        } else {
            drop_unused!(notes, "train", t, "used by sgd only"; momentum);
        }
        fill(&mut t.weight_decay, if optimizer == OptimizerName::Adamw { 0.01 } else { 0.0 });
        let schedule = *t.schedule.get_or_insert(ScheduleName::Constant);
        if schedule == ScheduleName::Cosine {
            fill(&mut t.warmup_steps, 0);
            fill(&mut t.min_lr, 0.0);
        } else {
            drop_unused!(notes, "train", t, "used by the cosine schedule only"; warmup_steps, min_lr);
        }
        if schedule == ScheduleName::Step {
            fill(&mut t.lr_step_size, 1000);
            fill(&mut t.lr_gamma, 0.5);
        } else {
            drop_unused!(notes, "train", t, "used by the step schedule only"; lr_step_size, lr_gamma);
        }
        fill(&mut t.eval_every, defaults::EVAL_EVERY);
        fill(&mut t.keep_best, true);

        let s = &mut self.sample;
        fill(&mut s.n, defaults::SAMPLE_N);
        if kind == ModelKind::NcsnScore {
            fill(&mut s.steps, defaults::ANNEALED_STEPS);
            fill(&mut s.step_size, defaults::ANNEALED_STEP_SIZE);
        } else {
            fill(&mut s.steps, defaults::SAMPLE_STEPS);
            fill(&mut s.step_size, defaults::SAMPLE_STEP_SIZE);
        }
        (self, notes)
    }

    /// Checks the resolved values that do not depend on the data, with messages naming the
    /// flags. Call after [`RunConfig::resolve`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(usage(m));
        let positive = |v: Option<f64>| v.is_some_and(|v| v > 0.0 && v.is_finite());
        if self.threads == Some(0) {
            return bad("--threads must be at least 1".into());
        }
        if self.data.n_samples == Some(0) {
            return bad("--n-samples must be at least 1".into());
        }
        if let Some(f) = self.data.val_fraction
            && !(0.0..1.0).contains(&f)
        {
            return bad(format!("--val-fraction must be in [0, 1), got {f}"));
        }
        self.validate_model()?;
        let kind = self.model_kind();
        let o = &self.objective;
        let objective = o.kind.unwrap_or(ObjectiveKind::SsmVr);
        match (objective, kind) {
            (ObjectiveKind::Mle, k) if !matches!(k, ModelKind::Nice | ModelKind::Gaussian) => {
                return bad(format!(
                    "--objective mle needs a model with a closed-form density, and {} has none: \
                     use --model nice or gaussian",
                    k.name()
                ));
            }
            (ObjectiveKind::MsDsm, k) if k != ModelKind::NcsnScore => {
                return bad(format!(
                    "--objective ms-dsm trains a noise-conditional score network: use --model \
                     ncsn-score (not {})",
                    k.name()
                ));
            }
            (obj, ModelKind::NcsnScore) if obj != ObjectiveKind::MsDsm => {
                return bad(format!(
                    "--model ncsn-score is trained with --objective ms-dsm, not {}",
                    obj.name()
                ));
            }
            _ => {}
        }
        if o.n_projections == Some(0) {
            return bad("--n-projections must be at least 1".into());
        }
        if o.sigma.is_some() && !positive(o.sigma) {
            return bad(format!("--sigma must be a positive number, got {:?}", o.sigma));
        }
        if let (Some(lo), Some(hi)) = (o.sigma_min, o.sigma_max)
            && !(lo > 0.0 && lo <= hi && hi.is_finite())
        {
            return bad(format!("ms-dsm needs 0 < --sigma-min <= --sigma-max, got {lo} and {hi}"));
        }
        if o.levels == Some(0) {
            return bad("--levels must be at least 1".into());
        }
        let t = &self.train;
        if t.steps == Some(0) || t.epochs == Some(0) {
            return bad("train for at least one step (--steps or --epochs)".into());
        }
        if t.batch_size == Some(0) {
            return bad("--batch-size must be at least 1".into());
        }
        if !positive(t.lr) {
            return bad(format!("--lr must be a positive number, got {:?}", t.lr));
        }
        if t.momentum.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            return bad("--momentum must be >= 0".into());
        }
        if t.weight_decay.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            return bad("--weight-decay must be >= 0".into());
        }
        if t.clip_grad_norm.is_some() && !positive(t.clip_grad_norm) {
            return bad(format!(
                "--clip-grad-norm must be a positive number, got {:?}",
                t.clip_grad_norm
            ));
        }
        if t.patience == Some(0) {
            return bad("--patience must be at least 1".into());
        }
        if t.patience.is_some() && self.data.val_fraction == Some(0.0) {
            return bad("--patience needs a validation set: set --val-fraction above 0".into());
        }
        if t.eval_every == Some(0) {
            return bad("--eval-every must be at least 1".into());
        }
        if t.min_lr.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            return bad("--min-lr must be >= 0".into());
        }
        if t.lr_step_size == Some(0) {
            return bad("--lr-step-size must be at least 1".into());
        }
        if t.lr_gamma.is_some() && !positive(t.lr_gamma) {
            return bad("--lr-gamma must be a positive number".into());
        }
        let s = &self.sample;
        if s.n == Some(0) || s.steps == Some(0) {
            return bad("sample.n and sample.steps must be at least 1".into());
        }
        if s.step_size.is_some() && !positive(s.step_size) {
            return bad("sample.step_size must be a positive number".into());
        }
        Ok(())
    }

    /// Checks the model section on its own.
    pub fn validate_model(&self) -> Result<()> {
        let m = &self.model;
        if let Some(h) = &m.hidden
            && (h.is_empty() || h.contains(&0))
        {
            return Err(usage("--hidden needs one or more positive widths, e.g. --hidden 64,64"));
        }
        if let Some(s) = m.base_sigma
            && (s.is_nan() || s <= 0.0)
        {
            return Err(usage(format!(
                "--base-sigma must be positive (or none for no base term), got {s}"
            )));
        }
        if m.couplings.is_some_and(|c| c < 2) {
            return Err(usage(
                "--couplings must be at least 2 so that both halves are transformed",
            ));
        }
        Ok(())
    }

    /// The seed (0 when unresolved).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// Worker threads (1 when unresolved).
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or(1)
    }

    /// Training precision.
    pub fn dtype(&self) -> DType {
        self.dtype.unwrap_or(DTypeName::F32).into()
    }

    /// The model family.
    pub fn model_kind(&self) -> ModelKind {
        self.model.kind.unwrap_or(ModelKind::MlpEnergy)
    }

    /// The model for data of dimension `dim`.
    pub fn model_config(&self, dim: usize) -> Result<ModelConfig> {
        let m = &self.model;
        let hidden = m.hidden.clone().unwrap_or_else(|| defaults::HIDDEN.to_vec());
        let activation: Activation = m.activation.unwrap_or(ActivationName::Softplus).into();
        Ok(match self.model_kind() {
            ModelKind::MlpEnergy => ModelConfig::MlpEnergy(MlpEnergy {
                dim,
                hidden,
                activation,
                base_sigma: m.base_sigma.filter(|s| s.is_finite()),
            }),
            ModelKind::MlpScore => ModelConfig::MlpScore(MlpScore { dim, hidden, activation }),
            ModelKind::NcsnScore => {
                ModelConfig::NcsnScore(NoiseConditionalScore { dim, hidden, activation })
            }
            ModelKind::Nice => {
                if dim < 2 {
                    return Err(usage(format!(
                        "--model nice needs data with at least 2 columns, this data has {dim}"
                    )));
                }
                ModelConfig::Nice(Nice {
                    dim,
                    couplings: m.couplings.unwrap_or(defaults::COUPLINGS),
                    hidden,
                    activation,
                })
            }
            ModelKind::Gaussian => ModelConfig::Gaussian(GaussianEnergy { dim }),
        })
    }

    /// The objective.
    pub fn objective(&self) -> Objective {
        let o = &self.objective;
        let projection = o.projection.unwrap_or(ProjectionName::Rademacher).into();
        let n_projections = o.n_projections.unwrap_or(defaults::N_PROJECTIONS);
        match o.kind.unwrap_or(ObjectiveKind::SsmVr) {
            ObjectiveKind::Esm => Objective::Esm,
            ObjectiveKind::Ssm => Objective::Ssm { projection, n_projections },
            ObjectiveKind::SsmVr => Objective::SsmVr { projection, n_projections },
            ObjectiveKind::Dsm => Objective::Dsm { sigma: o.sigma.unwrap_or(defaults::SIGMA) },
            ObjectiveKind::MsDsm => Objective::MsDsm {
                sigma_min: o.sigma_min.unwrap_or(defaults::SIGMA_MIN),
                sigma_max: o.sigma_max.unwrap_or(defaults::SIGMA_MAX),
                levels: o.levels.unwrap_or(defaults::LEVELS),
            },
            ObjectiveKind::Mle => Objective::Mle,
        }
    }

    /// The optimisation settings for a training set of `n_train` rows.
    pub fn train_config(&self, n_train: usize) -> Result<TrainConfig> {
        let t = &self.train;
        let batch_size = t.batch_size.unwrap_or(defaults::BATCH_SIZE);
        if n_train < batch_size {
            return Err(usage(format!(
                "the training set has {n_train} rows, fewer than one batch of {batch_size}: \
                 lower --batch-size (or add data / lower --val-fraction)"
            )));
        }
        let steps = t.steps.unwrap_or(defaults::STEPS);
        let total = TrainConfig { steps, epochs: t.epochs, batch_size, ..TrainConfig::default() }
            .total_steps(n_train)
            .map_err(|e| usage(e.to_string()))?;
        let weight_decay = t.weight_decay.unwrap_or(0.0);
        let optimizer = match t.optimizer.unwrap_or(OptimizerName::Adam) {
            OptimizerName::Sgd => OptimizerKind::Sgd {
                momentum: t.momentum.unwrap_or(0.0),
                dampening: 0.0,
                nesterov: false,
                weight_decay,
            },
            OptimizerName::Adam => match OptimizerKind::default() {
                OptimizerKind::Adam { beta1, beta2, eps, .. } => {
                    OptimizerKind::Adam { beta1, beta2, eps, weight_decay }
                }
                other => other,
            },
            OptimizerName::Adamw => match OptimizerKind::adamw() {
                OptimizerKind::AdamW { beta1, beta2, eps, .. } => {
                    OptimizerKind::AdamW { beta1, beta2, eps, weight_decay }
                }
                other => other,
            },
        };
        let schedule = match t.schedule.unwrap_or(ScheduleName::Constant) {
            ScheduleName::Constant => Schedule::Constant,
            ScheduleName::Cosine => {
                let warmup_steps = t.warmup_steps.unwrap_or(0);
                if warmup_steps > total as u64 {
                    return Err(usage(format!(
                        "--warmup-steps {warmup_steps} exceeds the {total} training steps"
                    )));
                }
                Schedule::Cosine {
                    total_steps: total as u64,
                    warmup_steps,
                    min_lr: t.min_lr.unwrap_or(0.0),
                }
            }
            ScheduleName::Step => Schedule::Step {
                step_size: t.lr_step_size.unwrap_or(1000),
                gamma: t.lr_gamma.unwrap_or(0.5),
            },
        };
        Ok(TrainConfig {
            steps,
            epochs: t.epochs,
            batch_size,
            lr: t.lr.unwrap_or(defaults::LR),
            optimizer,
            schedule,
            clip_grad_norm: t.clip_grad_norm,
            seed: self.seed(),
            eval_every: t.eval_every.unwrap_or(defaults::EVAL_EVERY),
            patience: t.patience,
            keep_best: t.keep_best.unwrap_or(true),
            threads: self.threads(),
        })
    }

    /// The sampler of the samples plot: annealed Langevin on the training ladder for
    /// noise-conditional models, unadjusted Langevin otherwise.
    pub fn sampler_config(&self) -> SamplerConfig {
        let s = &self.sample;
        let mut c = SamplerConfig {
            n_chains: s.n.unwrap_or(defaults::SAMPLE_N),
            seed: self.seed(),
            threads: self.threads(),
            ..SamplerConfig::default()
        };
        if let Objective::MsDsm { sigma_min, sigma_max, levels } = self.objective() {
            c.kind = SamplerKind::Annealed;
            c.ladder = Ladder { sigma_min, sigma_max, levels };
            c.init_std = sigma_max;
            c.steps = s.steps.unwrap_or(defaults::ANNEALED_STEPS);
            c.step_size = s.step_size.unwrap_or(defaults::ANNEALED_STEP_SIZE);
        } else {
            c.kind = SamplerKind::Langevin;
            c.steps = s.steps.unwrap_or(defaults::SAMPLE_STEPS);
            c.step_size = s.step_size.unwrap_or(defaults::SAMPLE_STEP_SIZE);
        }
        c
    }
}

/// Whether `name` is a built-in dataset rather than a file.
pub fn is_builtin_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !lower.ends_with(".csv")
        && !lower.ends_with(".npy")
        && scorematch::data::ToyDensity::from_name(name).is_ok()
}

#[cfg(test)]
mod tests;
