//! Training: minibatch optimisation of an objective, with validation, early stopping,
//! metrics and a progress hook.
//!
//! The loss and its parameter gradient are compiled once (`CompiledLoss`); each step
//! gathers a batch into a preallocated buffer, draws the objective's noise, runs the
//! program, clips, and lets the optimiser update the parameters in place. Shuffling,
//! noise and validation noise come from the run's [`Stream`]s of `seed`, so the same seed
//! and thread count give the same parameters bit for bit.

mod compiled;
mod record;

pub use compiled::CompiledLoss;
pub use record::{BestValidation, TrainingRecord};

use std::time::Instant;

use rand::seq::SliceRandom;
use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{ConfigError, Error, Result};
use crate::eval::HeldoutLoss;
use crate::model::Model;
use crate::objective::Objective;
use crate::optim::{OptimizerKind, Schedule, clip_grad_norm, grad_norm};
use crate::rng::Stream;

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
    /// Return the parameters of the best validation loss rather than the last.
    pub keep_best: bool,
    /// Worker threads of the compiled programs.
    pub threads: usize,
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
        self.optimizer.validate()?;
        self.schedule.validate()
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
    /// Stop after this step (e.g. Ctrl-C); the report says `Interrupted`.
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
    /// Wall time in seconds.
    pub seconds: f64,
}

/// The mean objective over every row of `data` ([`HeldoutLoss::mean`]: full batches and
/// one batch of the rows left), with noise from a fixed seed so that successive
/// evaluations are comparable.
pub fn evaluate_objective<T: Element>(
    loss: &mut HeldoutLoss<T>,
    params: &[Vec<T>],
    data: &Dataset,
    seed: u64,
) -> Result<f64> {
    loss.mean(params, data, seed)
}

/// Trains `params` (initialised by the caller, updated in place) of `model` on `train` by
/// `objective`. Validation, when given, drives early stopping and keep-best. The hook is
/// called after every step.
pub fn fit<T: Element>(
    model: &dyn Model,
    objective: &Objective,
    train: &Dataset,
    validation: Option<&Dataset>,
    config: &TrainConfig,
    params: &mut [Vec<T>],
    hook: &mut dyn FnMut(&StepMetrics) -> Control,
) -> Result<TrainReport> {
    config.validate()?;
    if train.d() != model.dim() {
        return Err(Error::Shape(format!(
            "data has {} columns but the model expects {}",
            train.d(),
            model.dim()
        )));
    }
    config.check_rows(train.n())?;
    let b = config.batch_size;
    let steps_per_epoch = train.n() / b;
    let total = config.total_steps(train.n())?;
    let mut loss = CompiledLoss::<T>::new(model, objective, b, true, config.threads)?;
    let mut val_loss = match validation {
        Some(v) if v.n() > 0 => {
            Some((HeldoutLoss::<T>::new(model, objective, b, v.n(), config.threads)?, v))
        }
        _ => None,
    };
    let mut optimizer = config.optimizer.build::<T>()?;
    let mut shuffle_rng = Stream::Batches.rng(config.seed);
    let mut noise_rng = Stream::Noise.rng(config.seed);
    let mut order: Vec<usize> = (0..train.n()).collect();
    let mut batch = vec![T::zero(); b * train.d()];
    let mut grads: Vec<Vec<T>> = params.iter().map(|p| vec![T::zero(); p.len()]).collect();
    let mut last_good: Vec<Vec<T>> = params.to_vec();
    let mut best: Option<(usize, f64)> = None;
    let mut best_params: Vec<Vec<T>> = params.to_vec();
    let mut since_best = 0;
    let mut history = Vec::with_capacity(total.min(1 << 16));
    let start = Instant::now();
    let mut stop = StopReason::Completed;
    let mut steps_done = 0;
    for step in 1..=total {
        let pos = (step - 1) % steps_per_epoch;
        if pos == 0 {
            order.shuffle(&mut shuffle_rng);
        }
        for (r, &i) in order[pos * b..(pos + 1) * b].iter().enumerate() {
            let row = train.row(i);
            batch[r * row.len()..(r + 1) * row.len()]
                .iter_mut()
                .zip(row)
                .for_each(|(o, &v)| *o = T::from_f64(v));
        }
        let value = loss.evaluate_with_fresh_noise(params, &batch, &mut noise_rng)?;
        loss.copy_grads(&mut grads)?;
        let norm = grad_norm(&grads);
        // Invariant: `params` are finite here (the previous update was checked), so a
        // non-finite loss or gradient leaves them as the last completed step's.
        if !value.is_finite() || !norm.is_finite() {
            stop = StopReason::NonFinite { step };
            break;
        }
        if let Some(max) = config.clip_grad_norm {
            clip_grad_norm(&mut grads, max)?;
        }
        let lr = config.schedule.lr_at(step as u64 - 1, config.lr);
        copy_into(&mut last_good, params);
        optimizer.step(params, &grads, lr)?;
        if params.iter().flatten().any(|v| !v.is_finite()) {
            copy_into(params, &last_good);
            stop = StopReason::NonFinite { step };
            break;
        }
        steps_done = step;
        let mut metrics = StepMetrics {
            step,
            total_steps: total,
            epoch: (step - 1) / steps_per_epoch,
            loss: value,
            grad_norm: norm,
            lr,
            steps_per_sec: step as f64 / start.elapsed().as_secs_f64().max(1e-9),
            val_loss: None,
        };
        let mut early = false;
        if let Some((vl, vdata)) = val_loss.as_mut()
            && (step % config.eval_every.max(1) == 0 || step == total)
        {
            let v = evaluate_objective(vl, params, vdata, Stream::Validation.seed(config.seed))?;
            metrics.val_loss = Some(v);
            if v.is_finite() && best.is_none_or(|(_, bv)| v < bv) {
                best = Some((step, v));
                copy_into(&mut best_params, params);
                since_best = 0;
            } else {
                since_best += 1;
                early = config.patience.is_some_and(|p| since_best >= p);
            }
        }
        let control = hook(&metrics);
        history.push(metrics);
        if early {
            stop = StopReason::EarlyStopped;
            break;
        }
        if control == Control::Stop {
            stop = StopReason::Interrupted;
            break;
        }
    }
    // Keep-best applies to runs that ended normally; an interrupted or diverged run returns
    // its last completed step, as its stop reason says.
    let ended_normally = matches!(stop, StopReason::Completed | StopReason::EarlyStopped);
    if config.keep_best && ended_normally && best.is_some() {
        copy_into(params, &best_params);
    }
    Ok(TrainReport { history, stop, steps_done, best, seconds: start.elapsed().as_secs_f64() })
}

/// Copies parameter values tensor by tensor (no allocation).
fn copy_into<T: Copy>(dst: &mut [Vec<T>], src: &[Vec<T>]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| d.copy_from_slice(s));
}
