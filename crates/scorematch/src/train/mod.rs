//! Training: minibatch optimisation of an objective, with validation, early stopping,
//! metrics and a progress hook.
//!
//! The loss and its parameter gradient are compiled once (`CompiledLoss`); each step
//! gathers a batch into a preallocated buffer, draws the objective's noise, runs the
//! program, clips, and lets the optimiser update the parameters in place. Shuffling,
//! noise and validation noise come from the run's [`Stream`](crate::rng::Stream)s of
//! `seed`, keyed by position (epoch, step, row), so the same seed and thread count give the
//! same parameters bit for bit, and a [`Trainer`] restored from a [`TrainState`] continues
//! a run exactly as if it had never stopped.

mod compiled;
mod fitted;
mod parts;
mod record;
mod system;
mod trainer;

pub use compiled::{CompiledLoss, MIN_SLICE_FLOPS, WIDE_ROW_FLOPS};
pub use record::{BestValidation, HeldKind, HeldStep, TrainingRecord};
use trainer::copy_into;
pub(crate) use trainer::to_f64;
pub use trainer::{AnyTrainer, TrainState, Trainer, run_to_end, trainable_mask};

use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::data::Rows;
use crate::error::{ConfigError, Result};
use crate::model::Model;
use crate::objective::Objective;
use crate::optim::{OptimizerKind, Schedule};

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Optimisation steps (ignored when `epochs` is set).
    pub steps: usize,
    /// Passes over the training set; overrides `steps` when set.
    pub epochs: Option<usize>,
    /// Rows per batch.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Optimiser and its hyper-parameters.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the global gradient norm to this value.
    pub clip_grad_norm: Option<f64>,
    /// Seed of shuffling and noise.
    pub seed: u64,
    /// Evaluate on the validation set every this many steps (and at the end).
    pub eval_every: usize,
    /// Stop after this many evaluations without improvement.
    pub patience: Option<usize>,
    /// Keep the parameters of the best validation loss rather than the last (however the
    /// run ends).
    pub keep_best: bool,
    /// Worker threads of the compiled programs.
    pub threads: usize,
    /// The objective of the validation loss (early stopping, keep-best); `None`: the
    /// training objective. The official DKEF runs stop on exact SM whatever they train by.
    pub val_objective: Option<Objective>,
    /// Update only the parameters whose names start with one of these prefixes (the others
    /// keep their values; their gradients are left out of the clipped norm); empty: all.
    pub train_only: Vec<String>,
    /// Where a model with a part solved in closed form (dkef's α) takes it from in training.
    pub closed_form_fit: ClosedFormFit,
}

crate::names::named_enum! {
    /// Where a training step of a model with a part solved in closed form
    /// ([`crate::model::ClosedForm`], dkef's α) takes that part from. Other models ignore it.
    pub enum ClosedFormFit: "closed-form fit" {
        /// Fitted on the first half of each batch, the loss taken on the second (the
        /// official DKEF training); the stored statistics are refitted over the training
        /// rows before each validation and at the end.
        Batch = "batch",
        /// Solved from the statistics stored among the parameters, which are left as they
        /// are (the official DKEF "finalize" stage: with the kernel frozen by
        /// `train.train_only`, λ alone trains on held-out rows).
        Stored = "stored",
    }
}

/// The most optimisation steps one run may plan (a guard against typos such as an extra
/// zero in `epochs`).
pub const MAX_STEPS: usize = 1_000_000_000;

impl TrainConfig {
    /// Steps this configuration runs on a training set of `n_train` rows: `steps`, or
    /// `epochs` × ⌊n_train / batch_size⌋. Errors above [`MAX_STEPS`].
    pub fn total_steps(&self, n_train: usize) -> Result<usize> {
        let per_epoch = n_train / self.batch_size.max(1);
        let total = match self.epochs {
            Some(e) => e.saturating_mul(per_epoch),
            None => self.steps,
        };
        if total > MAX_STEPS {
            let (field, value) = match self.epochs {
                Some(epochs) => ("train.epochs", epochs),
                None => ("train.steps", self.steps),
            };
            return Err(ConfigError::new(
                field,
                value,
                format!("plans {total} steps, more than the {MAX_STEPS} steps allowed"),
            )
            .into());
        }
        Ok(total)
    }

    /// Checks the settings on their own (see [`TrainConfig::check_rows`] for the data).
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("train.batch_size", self.batch_size)?;
        match self.epochs {
            Some(epochs) => ConfigError::at_least_one("train.epochs", epochs)?,
            None => ConfigError::at_least_one("train.steps", self.steps)?,
        }
        ConfigError::positive("train.lr", self.lr)?;
        if let Some(max) = self.clip_grad_norm {
            ConfigError::positive("train.clip_grad_norm", max)?;
        }
        if let Some(patience) = self.patience {
            ConfigError::at_least_one("train.patience", patience)?;
        }
        ConfigError::at_least_one("train.eval_every", self.eval_every)?;
        ConfigError::at_least_one("threads", self.threads)?;
        if let Some(empty) = self.train_only.iter().find(|p| p.trim().is_empty()) {
            return Err(ConfigError::new(
                "train.train_only",
                format!("{empty:?}"),
                "parameter name prefixes, none empty (leave the list empty to train every \
                 parameter)",
            ));
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }

    /// Checks that a batch can be split over `ranks` ranks of a distributed run: at least
    /// one row each.
    pub fn check_ranks(&self, ranks: usize) -> Result<(), ConfigError> {
        if self.batch_size < ranks {
            return Err(ConfigError::new(
                "train.batch_size",
                self.batch_size,
                format!(
                    "must be at least the {ranks} ranks, so that every rank holds a row of each \
                     batch: raise train.batch_size or run fewer ranks"
                ),
            ));
        }
        Ok(())
    }

    /// Checks the settings against a training set of `n_train` rows: at least one batch,
    /// and no more steps than allowed.
    pub fn check_rows(&self, n_train: usize) -> Result<()> {
        if n_train < self.batch_size {
            return Err(ConfigError::new(
                "train.batch_size",
                self.batch_size,
                format!(
                    "the training set has only {n_train} rows, fewer than one batch: lower \
                     train.batch_size (or add data / lower data.val_fraction)"
                ),
            )
            .into());
        }
        self.total_steps(n_train).map(|_| ())
    }
}

/// What one step measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// 1-based step number.
    pub step: usize,
    /// Total steps planned.
    pub total_steps: usize,
    /// 0-based epoch.
    pub epoch: usize,
    /// Training loss of this step's batch.
    pub loss: f64,
    /// Global gradient norm, before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Throughput since training started.
    pub steps_per_sec: f64,
    /// Validation loss, on steps where it was evaluated.
    pub val_loss: Option<f64>,
}

/// What the progress hook tells the trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop after this step (e.g. a signal); the report says `Interrupted`.
    Stop,
}

/// Why training ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StopReason {
    /// All steps ran.
    Completed,
    /// Validation loss stopped improving for `patience` evaluations.
    EarlyStopped,
    /// The hook asked to stop.
    Interrupted,
    /// The run had not ended when this was reported (a periodic checkpoint).
    InProgress,
    /// The loss, the gradient or the updated parameters became non-finite at this step;
    /// the parameters are those of the last completed step (all finite).
    NonFinite {
        /// The step whose loss or gradient was not finite.
        step: usize,
    },
}

/// The outcome of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Metrics of every step.
    pub history: Vec<StepMetrics>,
    /// Why training ended.
    pub stop: StopReason,
    /// Steps completed.
    pub steps_done: usize,
    /// Best validation loss and its step, if there was a validation set.
    pub best: Option<(usize, f64)>,
    /// Which step's parameters the run keeps ([`Trainer::kept`]).
    pub held: HeldStep,
    /// The last completed step's training loss.
    pub final_loss: Option<f64>,
    /// Wall time in seconds (of this session, for a resumed run).
    pub seconds: f64,
}

/// Trains `params` (initialised by the caller, updated in place) of `model` on `train` by
/// `objective`: a [`Trainer`] stepped to the end, with `hook` called after every step (its
/// [`Control::Stop`] interrupts the run). Validation, when given, drives early stopping and
/// keep-best; `params` end as [`Trainer::kept`] says.
pub fn fit<T: Element>(
    model: &dyn Model,
    objective: &Objective,
    train: &dyn Rows,
    validation: Option<&dyn Rows>,
    config: &TrainConfig,
    params: &mut [Vec<T>],
    hook: &mut dyn FnMut(&StepMetrics) -> Control,
) -> Result<TrainReport> {
    let mut trainer = Trainer::new(model, objective, train, validation, config, params.to_vec())?;
    let report = run_to_end(&mut trainer, hook)?;
    copy_into(params, trainer.kept().1);
    Ok(report)
}
