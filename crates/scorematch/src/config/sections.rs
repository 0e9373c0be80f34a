//! The sections of a [`RunConfig`](super::RunConfig), each declared once: its fields, their
//! defaults (the `Default` impls here are the only place a default is written), the rules
//! on them, and — with the `clap` feature — their command-line flags. A field's doc comment
//! is its rustdoc, its `--help` line and its `config.toml` documentation at once.

use serde::{Deserialize, Deserializer, Serialize};

use crate::data::Dequantize;
use crate::error::ConfigError;
use crate::model::{Activation, Dkef, ModelKind, check_base_sigma, check_couplings, check_hidden};
use crate::objective::{ObjectiveKind, Projection};
use crate::optim::{OptimizerName, ScheduleName};
use crate::sample::Ladder;
use crate::train::ClosedFormFit;

/// Where the data comes from and how it is prepared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(id = "data"))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Data"))]
pub struct DataSection {
    /// Built-in dataset name, a .csv file with a header row, or a .npy file.
    #[cfg_attr(feature = "clap", arg(long = "data", value_name = "NAME|FILE"))]
    pub source: String,
    /// Samples drawn from a built-in dataset.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub n_samples: usize,
    /// Columns to use, in this order, by name or 0-based index (a column's exact name wins
    /// over reading it as an index); unset: all.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "COL,…", value_delimiter = ',', conflicts_with = "drop_columns")
    )]
    pub columns: Option<Vec<String>>,
    /// Columns to leave out, by name or 0-based index.
    #[cfg_attr(feature = "clap", arg(long, value_name = "COL,…", value_delimiter = ','))]
    pub drop_columns: Option<Vec<String>>,
    /// Standardise each column (mean 0, sd 1) before training; the map is saved.
    #[cfg_attr(
        feature = "clap",
        arg(
            long = "no-standardize",
            action = clap::ArgAction::SetFalse,
            help = "Train on the data as given (no per-column standardisation)"
        )
    )]
    pub standardize: bool,
    /// Fraction of rows held out for validation, 0 for none.
    #[cfg_attr(feature = "clap", arg(long, value_name = "F"))]
    pub val_fraction: f64,
    /// Add uniform noise of each column's grid spacing to the training and validation rows:
    /// auto (the columns that look discrete), uniform (every column) or none. The model then
    /// fits the density of the dequantised data.
    #[cfg_attr(feature = "clap", arg(long, value_name = "MODE"))]
    pub dequantize: Dequantize,
    /// Map each column from its bounded range (the data's, or --logit-bounds) to the real
    /// line by a logit before standardising; densities are reported for the data as given.
    #[cfg_attr(feature = "clap", arg(long))]
    pub logit: bool,
    /// Known range LO,HI of every column's values for the logit map; unset: each column's
    /// minimum and maximum.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "LO,HI", value_delimiter = ',', requires = "logit")
    )]
    pub logit_bounds: Option<Vec<f64>>,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            source: "eight-gaussians".into(),
            n_samples: 10_000,
            columns: None,
            drop_columns: None,
            standardize: true,
            val_fraction: 0.1,
            dequantize: Dequantize::None,
            logit: false,
            logit_bounds: None,
        }
    }
}

impl DataSection {
    /// Checks the section (the column choice as far as it can be without the data; see
    /// [`DataSection::select_columns`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("data.n_samples", self.n_samples)?;
        self.selection()?;
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(ConfigError::new(
                "data.val_fraction",
                self.val_fraction,
                "must be in [0, 1)",
            ));
        }
        self.logit_bounds()?;
        Ok(())
    }

    /// The known range (lo, hi) of the logit map, checked: two finite numbers, lo < hi, and
    /// only with `logit`.
    pub fn logit_bounds(&self) -> Result<Option<(f64, f64)>, ConfigError> {
        let Some(b) = &self.logit_bounds else { return Ok(None) };
        let shown = || b.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        match b[..] {
            [lo, hi] if lo.is_finite() && hi.is_finite() && lo < hi && self.logit => {
                Ok(Some((lo, hi)))
            }
            [_, _] if !self.logit => {
                Err(ConfigError::new("data.logit_bounds", shown(), "applies only with data.logit"))
            }
            _ => Err(ConfigError::new(
                "data.logit_bounds",
                shown(),
                "must be two finite numbers lo,hi with lo < hi",
            )),
        }
    }
}

/// The model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(id = "model"))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Model"))]
pub struct ModelSection {
    /// Model family.
    #[cfg_attr(feature = "clap", arg(id = "model.kind", long = "model", value_name = "KIND"))]
    pub kind: ModelKind,
    /// Hidden widths, comma-separated.
    #[cfg_attr(feature = "clap", arg(long, value_name = "H1,H2,…", value_delimiter = ','))]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub activation: Activation,
    /// mlp-energy's Gaussian base term scale σ₀ in ‖x‖²/(2σ₀²); `inf` (or `none`) for no
    /// base term.
    #[cfg_attr(feature = "clap", arg(long, value_name = "S|none", value_parser = parse_base_sigma))]
    #[serde(deserialize_with = "number_or_null_as_infinity")]
    pub base_sigma: f64,
    /// Coupling layers of a nice flow.
    #[cfg_attr(feature = "clap", arg(long, value_name = "K"))]
    pub couplings: usize,
    /// Inducing points M of a dkef model (started at distinct training rows).
    #[cfg_attr(feature = "clap", arg(long, value_name = "M"))]
    pub inducing_points: usize,
    /// Gaussian kernels in a dkef model's mixture (length scales from 1, 3.3, 10, …).
    #[cfg_attr(feature = "clap", arg(long, value_name = "K"))]
    pub kernels: usize,
    /// Width of the layers of a dkef model's feature networks.
    #[cfg_attr(feature = "clap", arg(long, value_name = "W"))]
    pub width: usize,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            kind: ModelKind::MlpEnergy,
            hidden: vec![64, 64],
            activation: Activation::Softplus,
            // In standardised coordinates: wide enough not to shape the fit, enough to make
            // exp(−f) integrable.
            base_sigma: 3.0,
            couplings: 4,
            // The sliced score matching paper's DKEF (its official code's defaults).
            inducing_points: 200,
            kernels: 3,
            width: 30,
        }
    }
}

impl ModelSection {
    /// Checks the section (the rules are the models' own).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.kind.has_mlp() {
            check_hidden(&self.hidden)?;
        }
        if self.kind == ModelKind::MlpEnergy {
            check_base_sigma(self.base_sigma)?;
        }
        if self.kind == ModelKind::Nice {
            check_couplings(self.couplings)?;
        }
        if self.kind == ModelKind::Dkef {
            self.dkef(1).validate()?;
        }
        Ok(())
    }
}

impl ModelSection {
    /// The dkef model these settings give for data of dimension `dim`.
    pub fn dkef(&self, dim: usize) -> Dkef {
        Dkef {
            dim,
            inducing_points: self.inducing_points,
            kernels: self.kernels,
            width: self.width,
        }
    }
}

/// Reads a base scale written as a number, or as `null` (JSON's spelling of an infinite
/// one: no base term).
fn number_or_null_as_infinity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Parses a base scale: a positive number, or `none`/`inf` for no base term.
pub fn parse_base_sigma(text: &str) -> Result<f64, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(f64::INFINITY);
    }
    text.parse::<f64>().map_err(|_| format!("'{text}' is not a number (or `none`)"))
}

/// The objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(id = "objective"))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Objective"))]
pub struct ObjectiveSection {
    /// Objective; unset: the model's usual one (ms-dsm for ncsn-score, ssm-vr otherwise).
    #[cfg_attr(
        feature = "clap",
        arg(id = "objective.kind", long = "objective", value_name = "NAME")
    )]
    pub kind: Option<ObjectiveKind>,
    /// Projection distribution of ssm / ssm-vr.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub projection: Projection,
    /// Projections per sample of ssm / ssm-vr.
    #[cfg_attr(feature = "clap", arg(long, value_name = "M"))]
    pub n_projections: usize,
    /// Noise level of dsm (standardised units).
    #[cfg_attr(feature = "clap", arg(long, value_name = "S"))]
    pub sigma: f64,
    /// Smallest noise level of ms-dsm.
    #[cfg_attr(feature = "clap", arg(long, value_name = "S"))]
    pub sigma_min: f64,
    /// Largest noise level of ms-dsm.
    #[cfg_attr(feature = "clap", arg(long, value_name = "S"))]
    pub sigma_max: f64,
    /// Noise levels of ms-dsm (geometric ladder).
    #[cfg_attr(feature = "clap", arg(long, value_name = "L"))]
    pub levels: usize,
    /// Input directions per chunk of esm, and of dkef's closed-form statistics under esm
    /// (memory grows with it); unset: as many as fit in 64 MiB of tangents.
    #[cfg_attr(feature = "clap", arg(long, value_name = "C"))]
    pub esm_chunk: Option<usize>,
    /// Objective of the validation loss (early stopping, keep-best), with the settings
    /// above; unset: the training objective.
    #[cfg_attr(feature = "clap", arg(long = "val-objective", value_name = "NAME"))]
    pub val_kind: Option<ObjectiveKind>,
}

impl Default for ObjectiveSection {
    /// The ms-dsm ladder is annealed Langevin's usual ([`Ladder::default`]).
    fn default() -> Self {
        let ladder = Ladder::default();
        Self {
            kind: None,
            projection: Projection::Rademacher,
            n_projections: 1,
            sigma: 0.1,
            sigma_min: ladder.sigma_min,
            sigma_max: ladder.sigma_max,
            levels: ladder.levels,
            esm_chunk: None,
            val_kind: None,
        }
    }
}

impl ObjectiveSection {
    /// The objective `kind`, or the usual one for `model`.
    pub fn kind_for(&self, model: ModelKind) -> ObjectiveKind {
        self.kind.unwrap_or(if model.is_noise_conditional() {
            ObjectiveKind::MsDsm
        } else {
            ObjectiveKind::SsmVr
        })
    }
}

/// The optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", group(id = "train"))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Optimisation"))]
pub struct TrainSection {
    /// Optimisation steps (unless epochs is set).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N", conflicts_with = "epochs"))]
    pub steps: usize,
    /// Passes over the training set (instead of steps).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub epochs: Option<usize>,
    /// Rows per batch.
    #[cfg_attr(feature = "clap", arg(long, value_name = "B"))]
    pub batch_size: usize,
    /// Learning rate.
    #[cfg_attr(feature = "clap", arg(long, value_name = "LR"))]
    pub lr: f64,
    /// Optimiser.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub optimizer: OptimizerName,
    /// SGD momentum.
    #[cfg_attr(feature = "clap", arg(long, value_name = "M"))]
    pub momentum: f64,
    /// Weight decay: L2 for sgd/adam, decoupled for adamw; unset: 0, or 0.01 for adamw.
    #[cfg_attr(feature = "clap", arg(long, value_name = "L"))]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub schedule: ScheduleName,
    /// Linear warmup steps of the cosine schedule.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub warmup_steps: u64,
    /// Final learning rate of the cosine schedule.
    #[cfg_attr(feature = "clap", arg(long, value_name = "LR"))]
    pub min_lr: f64,
    /// Steps between decays of the step schedule.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub lr_step_size: u64,
    /// Decay factor of the step schedule.
    #[cfg_attr(feature = "clap", arg(long, value_name = "G"))]
    pub lr_gamma: f64,
    /// Clip the global gradient norm to this value.
    #[cfg_attr(feature = "clap", arg(long, value_name = "MAX"))]
    pub clip_grad_norm: Option<f64>,
    /// Stop after this many validations without improvement; unset: 10 for data files (with
    /// a validation set), none for built-in densities.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub patience: Option<usize>,
    /// Steps between validations.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub eval_every: usize,
    /// Steps between writes of the run's state to its folder (what a killed run resumes
    /// from); unset: every 60 seconds.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub checkpoint_every: Option<usize>,
    /// Keep the parameters of the best validation loss rather than the last.
    #[cfg_attr(feature = "clap", arg(skip = true))]
    pub keep_best: bool,
    /// Train only the parameters whose names start with one of these prefixes (e.g.
    /// `log_lambda`); the others keep their values. Unset: all.
    #[cfg_attr(feature = "clap", arg(long, value_name = "PREFIX", value_delimiter = ','))]
    pub train_only: Vec<String>,
    /// Where dkef's α comes from in training: fitted on half of each batch (`batch`), or
    /// solved from the statistics stored in the model (`stored`, to tune λ alone after
    /// training, with `--train-only log_lambda`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub closed_form_fit: ClosedFormFit,
}

impl Default for TrainSection {
    /// Chosen so that a run with no settings fits a 2-D toy density well in a few seconds
    /// on two cores: Adam at 3e-3 on batches of 256 (for the small MLPs score matching
    /// trains, a larger batch steadies the sliced estimator and costs little per step).
    fn default() -> Self {
        Self {
            steps: 2000,
            epochs: None,
            batch_size: 256,
            lr: 3e-3,
            optimizer: OptimizerName::Adam,
            momentum: 0.0,
            weight_decay: None,
            schedule: ScheduleName::Constant,
            warmup_steps: 0,
            min_lr: 0.0,
            lr_step_size: 1000,
            lr_gamma: 0.5,
            clip_grad_norm: None,
            patience: None,
            eval_every: 100,
            checkpoint_every: None,
            keep_best: true,
            train_only: Vec::new(),
            closed_form_fit: ClosedFormFit::Batch,
        }
    }
}

impl TrainSection {
    /// The weight decay: as set, or the optimiser's usual (0.01 for AdamW, else 0).
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(self.optimizer.default_weight_decay())
    }

    /// The patience: as set, or the usual for the data. One's own data (not a built-in
    /// density) with a validation set stops after [`OWN_DATA_PATIENCE`] validations without
    /// improvement (at the default `eval_every` of 100, a run stops 1000 steps after its
    /// best): a network there overfits a finite table as it trains on (the red-wine recipe's
    /// validation loss is best near step 800 of 3000 and rises after), and the checkpoint
    /// keeps the best step anyway. Built-in densities draw fresh data and keep no patience.
    pub fn patience_for(&self, own_data: bool, validation: bool) -> Option<usize> {
        self.patience.or((own_data && validation).then_some(OWN_DATA_PATIENCE))
    }
}

/// The usual patience on one's own data ([`TrainSection::patience_for`]).
pub const OWN_DATA_PATIENCE: usize = 10;

/// The sampler of a run's samples plot: unadjusted Langevin, or annealed Langevin on the
/// training ladder for noise-conditional models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleSection {
    /// Chains.
    pub n: usize,
    /// Steps (per noise level for annealed Langevin); unset: 500, or 100 per level for
    /// annealed Langevin.
    pub steps: Option<usize>,
    /// Step size (standardised coordinates); unset: 2e-3, or ε = 2e-5 for annealed
    /// Langevin (whose step at level σᵢ is ε·σᵢ²/σ_L²).
    pub step_size: Option<f64>,
}

impl Default for SampleSection {
    fn default() -> Self {
        Self { n: 1000, steps: None, step_size: None }
    }
}

impl SampleSection {
    /// Steps: as set, or the usual for the sampler.
    pub fn steps(&self, annealed: bool) -> usize {
        self.steps.unwrap_or(if annealed { 100 } else { 500 })
    }

    /// Step size: as set, or the usual for the sampler.
    pub fn step_size(&self, annealed: bool) -> f64 {
        self.step_size.unwrap_or(if annealed { 2e-5 } else { 2e-3 })
    }

    /// Checks the section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("sample.n", self.n)?;
        if let Some(steps) = self.steps {
            ConfigError::at_least_one("sample.steps", steps)?;
        }
        if let Some(size) = self.step_size {
            ConfigError::positive("sample.step_size", size)?;
        }
        Ok(())
    }
}
