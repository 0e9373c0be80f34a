//! A training run's configuration, declared once for every front.
//!
//! [`RunConfig`] is what a run needs besides its data: seed, threads, precision, and the
//! [data](DataSection), [model](ModelSection), [objective](ObjectiveSection),
//! [optimisation](TrainSection), [sampler](SampleSection) and [figures](FigureSection)
//! sections. It is at once
//!
//! - the **file format**: serde with the field names as written, `config.toml` of a run
//!   (every field has a default, so a file need only say what differs, and unknown keys are
//!   refused with their position);
//! - the **command line**: with the `clap` feature, every section derives `clap::Args`, a
//!   field's doc comment being its `--help` line, so the `scorematch` binary declares no
//!   flag of its own for a setting;
//! - the **library's input**: [`RunConfig::validate`] checks every rule once, returning a
//!   [`ConfigError`] that names the field by its path (`train.batch_size`), the value and
//!   what is allowed — never a front's spelling of it; [`RunConfig::model_config`],
//!   [`RunConfig::objective`], [`RunConfig::train_config`] and
//!   [`RunConfig::sampler_config`] build the toolkit's types.
//!
//! Defaults are written once, in the sections' `Default` impls; [`TrainConfig::default`]
//! is the default run's. A few defaults depend on other choices (the objective on the
//! model, the weight decay on the optimiser, the plot sampler's steps on the objective, the
//! patience on whether the data is one's own):
//! those fields are `Option`s, `None` meaning "the usual for the other choices", and
//! [`RunConfig::resolved`] writes the values in so that a run's saved configuration says
//! everything.
//!
//! Every random stream of a run is derived from [`RunConfig::seed`] by [`crate::rng`].
//!
//! The data section also says which of the data's columns a run uses
//! ([`DataSection::select_columns`]); fronts apply the same choice to the data they score
//! against a trained model.

mod columns;
mod figures;
mod reproduce;
mod rows;
mod sections;

pub use figures::{FigureSection, ImageShape, MAX_CORNER_COLUMNS, parse_image_shape};
pub use reproduce::ReproduceConfig;
pub use rows::RunRows;
pub use sections::{
    DataSection, ModelSection, OWN_DATA_PATIENCE, ObjectiveSection, SampleSection, TrainSection,
    parse_base_sigma,
};

use scorematch_graph::DType;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Result};
use crate::model::NoiseConditionalScore;
use crate::model::{GaussianEnergy, MlpEnergy, MlpScore, ModelConfig, ModelKind, Nice};
use crate::objective::{Objective, ObjectiveKind};
use crate::optim::{OptimizerKind, OptimizerName, Schedule, ScheduleName};
use crate::sample::{Ladder, SamplerConfig, SamplerKind};
use crate::train::TrainConfig;

/// A training run's configuration; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(skip))]
pub struct RunConfig {
    /// Seed of every random stream: data, split, initialisation, batches and noise.
    #[cfg_attr(feature = "clap", arg(long, value_name = "S", help_heading = "Run"))]
    pub seed: u64,
    /// Worker threads of the compiled programs.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N", help_heading = "Run"))]
    pub threads: usize,
    /// Train data-parallel on the ranks of an MPI job: start it with `mpirun -np N`, from a
    /// build with the `mpi` feature; each rank holds 1/N of every batch (see
    /// `docs/distributed.md`).
    #[cfg_attr(feature = "clap", arg(long, help_heading = "Run"))]
    pub distributed: bool,
    /// Precision of training and of the checkpoint: f32 (fast) or f64.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "f32|f64", value_parser = parse_dtype, help_heading = "Run")
    )]
    #[serde(with = "dtype_name")]
    pub dtype: DType,
    /// Whether a front draws the run's figures.
    #[cfg_attr(
        feature = "clap",
        arg(
            long = "no-plots",
            action = clap::ArgAction::SetFalse,
            help = "Skip the PNG figures",
            help_heading = "Output"
        )
    )]
    pub plots: bool,
    /// Data.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataSection,
    /// Model.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub model: ModelSection,
    /// Objective.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub objective: ObjectiveSection,
    /// Optimisation.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub train: TrainSection,
    /// Sampler of the samples plot (configuration file only).
    #[cfg_attr(feature = "clap", arg(skip))]
    pub sample: SampleSection,
    /// Figures of data with more than two columns.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub figures: FigureSection,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            threads: 1,
            distributed: false,
            dtype: DType::F32,
            plots: true,
            data: DataSection::default(),
            model: ModelSection::default(),
            objective: ObjectiveSection::default(),
            train: TrainSection::default(),
            sample: SampleSection::default(),
            figures: FigureSection::default(),
        }
    }
}

impl RunConfig {
    /// Checks every rule that does not depend on the data (those that do are checked by
    /// [`RunConfig::model_config`] and [`RunConfig::train_config`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.data.validate()?;
        self.model.validate()?;
        let kind = self.model.kind;
        self.objective().validate_for(kind.is_noise_conditional(), kind.has_log_density())?;
        // Before the data is known, an epoch count bounds no schedule.
        let total = match self.train.epochs {
            Some(_) => u64::MAX,
            None => self.train.steps as u64,
        };
        self.train_config_with(total).validate()?;
        if let Some(every) = self.train.checkpoint_every {
            ConfigError::at_least_one("train.checkpoint_every", every)?;
        }
        if self.train.patience.is_some() && self.data.val_fraction == 0.0 {
            return Err(ConfigError::new(
                "train.patience",
                self.train.patience.unwrap_or_default(),
                "needs a validation set: set data.val_fraction above 0",
            ));
        }
        self.sample.validate()?;
        self.figures.validate()?;
        self.check_finite()
    }

    /// Refuses NaN or an infinity in any number setting, whether or not the chosen model,
    /// objective and optimiser use it (`model.base_sigma` may be infinite: no base term).
    /// JSON, in which a saved model records its run, has no spelling for them: a run with
    /// one would save a checkpoint that cannot be read back.
    fn check_finite(&self) -> Result<(), ConfigError> {
        if self.model.base_sigma.is_nan() {
            return Err(ConfigError::new(
                "model.base_sigma",
                self.model.base_sigma,
                "must be a number (inf: no base term)",
            ));
        }
        let (o, t) = (&self.objective, &self.train);
        let settings = [
            ("objective.sigma", Some(o.sigma)),
            ("objective.sigma_min", Some(o.sigma_min)),
            ("objective.sigma_max", Some(o.sigma_max)),
            ("train.lr", Some(t.lr)),
            ("train.momentum", Some(t.momentum)),
            ("train.weight_decay", t.weight_decay),
            ("train.min_lr", Some(t.min_lr)),
            ("train.lr_gamma", Some(t.lr_gamma)),
            ("train.clip_grad_norm", t.clip_grad_norm),
            ("sample.step_size", self.sample.step_size),
        ];
        match settings.into_iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            Some((field, value)) => {
                Err(ConfigError::new(field, value.unwrap_or_default(), "must be a finite number"))
            }
            None => Ok(()),
        }
    }

    /// The configuration with every "usual for the other choices" default written in; see
    /// the module docs. Idempotent.
    pub fn resolved(mut self) -> Self {
        let objective = self.objective_kind();
        self.objective.kind = Some(objective);
        self.train.weight_decay = Some(self.train.weight_decay());
        let own_data = crate::data::builtin_density(&self.data.source).is_none();
        self.train.patience = self.train.patience_for(own_data, self.data.val_fraction > 0.0);
        let annealed = objective == ObjectiveKind::MsDsm;
        self.sample.steps = Some(self.sample.steps(annealed));
        self.sample.step_size = Some(self.sample.step_size(annealed));
        self
    }

    /// The settings that the chosen model, objective, optimiser and schedule do not use,
    /// each with the reason: (`objective.sigma`, "used by dsm only"). A front can tell a
    /// user who set one that it has no effect.
    pub fn unused_fields(&self) -> Vec<(&'static str, &'static str)> {
        let model = self.model.kind;
        let objective = self.objective_kind();
        let mut unused = Vec::new();
        let mut unless = |used: bool, fields: &[&'static str], why: &'static str| {
            if !used {
                unused.extend(fields.iter().map(|f| (*f, why)));
            }
        };
        unless(
            crate::data::builtin_density(&self.data.source).is_some(),
            &["data.n_samples"],
            "the data is a file, not a built-in density",
        );
        unless(
            model.has_mlp(),
            &["model.hidden", "model.activation"],
            "the gaussian and dkef models take no hidden widths or activation",
        );
        unless(
            model == ModelKind::Dkef,
            &["model.inducing_points", "model.kernels", "model.width"],
            "only dkef has inducing points and kernels",
        );
        unless(
            model == ModelKind::MlpEnergy,
            &["model.base_sigma"],
            "only mlp-energy has a base term",
        );
        unless(model == ModelKind::Nice, &["model.couplings"], "only nice has couplings");
        unless(
            objective.is_sliced(),
            &["objective.projection", "objective.n_projections"],
            "used by ssm and ssm-vr only",
        );
        unless(objective == ObjectiveKind::Dsm, &["objective.sigma"], "used by dsm only");
        unless(
            objective == ObjectiveKind::MsDsm,
            &["objective.sigma_min", "objective.sigma_max", "objective.levels"],
            "used by ms-dsm only",
        );
        unless(self.train.optimizer == OptimizerName::Sgd, &["train.momentum"], "used by sgd only");
        unless(
            self.train.schedule == ScheduleName::Cosine,
            &["train.warmup_steps", "train.min_lr"],
            "used by the cosine schedule only",
        );
        unless(
            self.train.schedule == ScheduleName::Step,
            &["train.lr_step_size", "train.lr_gamma"],
            "used by the step schedule only",
        );
        unless(self.data.val_fraction > 0.0, &["train.eval_every"], "there is no validation set");
        unless(
            self.plots,
            &["figures.columns", "figures.image_shape"],
            "the figures are not drawn (plots = false)",
        );
        unused
    }

    /// The objective: as set, or the model's usual.
    pub fn objective_kind(&self) -> ObjectiveKind {
        self.objective.kind_for(self.model.kind)
    }

    /// The model for data of dimension `dim`, validated, its parameters fitting in this
    /// machine's memory at [`RunConfig::dtype`] ([`ModelConfig::check_memory`]).
    pub fn model_config(&self, dim: usize) -> Result<ModelConfig> {
        let m = &self.model;
        let (hidden, activation) = (m.hidden.clone(), m.activation);
        let config = match m.kind {
            ModelKind::MlpEnergy => ModelConfig::MlpEnergy(MlpEnergy {
                dim,
                hidden,
                activation,
                base_sigma: Some(m.base_sigma).filter(|s| s.is_finite()),
            }),
            ModelKind::MlpScore => ModelConfig::MlpScore(MlpScore { dim, hidden, activation }),
            ModelKind::NcsnScore => {
                ModelConfig::NcsnScore(NoiseConditionalScore { dim, hidden, activation })
            }
            ModelKind::Nice => {
                ModelConfig::Nice(Nice { dim, couplings: m.couplings, hidden, activation })
            }
            ModelKind::Gaussian => ModelConfig::Gaussian(GaussianEnergy { dim }),
            ModelKind::Dkef => ModelConfig::Dkef(m.dkef(dim)),
        };
        config.validate()?;
        config.check_memory(self.dtype)?;
        Ok(config)
    }

    /// The objective.
    pub fn objective(&self) -> Objective {
        self.objective_of(self.objective_kind())
    }

    /// The objective of the validation loss, when it is not the training objective.
    pub fn val_objective(&self) -> Option<Objective> {
        self.objective.val_kind.map(|kind| self.objective_of(kind))
    }

    /// The objective `kind` with the objective section's settings.
    fn objective_of(&self, kind: ObjectiveKind) -> Objective {
        let o = &self.objective;
        let (projection, n_projections) = (o.projection, o.n_projections);
        match kind {
            ObjectiveKind::Esm => Objective::Esm { chunk: o.esm_chunk },
            ObjectiveKind::Ssm => Objective::Ssm { projection, n_projections },
            ObjectiveKind::SsmVr => Objective::SsmVr { projection, n_projections },
            ObjectiveKind::Dsm => Objective::Dsm { sigma: o.sigma },
            ObjectiveKind::MsDsm => Objective::MsDsm {
                sigma_min: o.sigma_min,
                sigma_max: o.sigma_max,
                levels: o.levels,
            },
            ObjectiveKind::Mle => Objective::Mle,
        }
    }

    /// The optimisation settings for a training set of `n_train` rows, validated against
    /// it (at least one batch; a schedule that fits the run's length).
    pub fn train_config(&self, n_train: usize) -> Result<TrainConfig> {
        let total = self.train_config_with(0).total_steps(n_train)?;
        let config = self.train_config_with(total as u64);
        config.validate()?;
        config.check_rows(n_train)?;
        Ok(config)
    }

    /// The optimisation settings, with a cosine schedule ending at `total_steps`.
    fn train_config_with(&self, total_steps: u64) -> TrainConfig {
        let t = &self.train;
        let optimizer = OptimizerKind::of(t.optimizer, t.momentum, t.weight_decay());
        let schedule = match t.schedule {
            ScheduleName::Constant => Schedule::Constant,
            ScheduleName::Cosine => {
                Schedule::Cosine { total_steps, warmup_steps: t.warmup_steps, min_lr: t.min_lr }
            }
            ScheduleName::Step => Schedule::Step { step_size: t.lr_step_size, gamma: t.lr_gamma },
        };
        TrainConfig {
            steps: t.steps,
            epochs: t.epochs,
            batch_size: t.batch_size,
            lr: t.lr,
            optimizer,
            schedule,
            clip_grad_norm: t.clip_grad_norm,
            seed: self.seed,
            eval_every: t.eval_every,
            patience: t.patience,
            keep_best: t.keep_best,
            threads: self.threads,
            val_objective: self.val_objective(),
            train_only: t.train_only.clone(),
            closed_form_fit: t.closed_form_fit,
        }
    }

    /// The sampler of the samples plot: annealed Langevin on the training ladder for
    /// noise-conditional models, unadjusted Langevin otherwise.
    pub fn sampler_config(&self) -> SamplerConfig {
        let s = &self.sample;
        let mut c = SamplerConfig {
            n_chains: s.n,
            seed: self.seed,
            threads: self.threads,
            ..SamplerConfig::default()
        };
        let annealed = if let Objective::MsDsm { sigma_min, sigma_max, levels } = self.objective() {
            c.kind = SamplerKind::Annealed;
            c.ladder = Ladder { sigma_min, sigma_max, levels };
            c.init_std = sigma_max;
            true
        } else {
            c.kind = SamplerKind::Langevin;
            false
        };
        c.steps = s.steps(annealed);
        c.step_size = s.step_size(annealed);
        c
    }
}

impl Default for TrainConfig {
    /// The default run's optimisation ([`TrainSection::default`]).
    fn default() -> Self {
        let run = RunConfig::default();
        run.train_config_with(run.train.steps as u64)
    }
}

/// Parses a precision name (`f32`, `f64`).
pub fn parse_dtype(text: &str) -> Result<DType, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "f32" | "float32" => Ok(DType::F32),
        "f64" | "float64" => Ok(DType::F64),
        other => Err(format!("unknown precision '{other}': choose one of f32, f64")),
    }
}

/// serde of a [`DType`] by its name (`"f32"`, `"f64"`).
mod dtype_name {
    use scorematch_graph::DType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(dtype: &DType, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(dtype)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DType, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_dtype(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
