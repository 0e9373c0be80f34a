//! A training run held between steps: step it, stop it, snapshot it, restore it.
//!
//! [`Trainer`] owns everything a run changes — parameters, optimiser moments, the
//! early-stopping state and the best parameters — and nothing it does not: the batch order
//! and the objective's noise are keyed by position ([`Stream::keyed`]: epoch `e` shuffles
//! with key `[e]`, the row at batch position `r` of step `t` draws with key `[t, r]`). So a
//! [`TrainState`] taken after any step, restored into a fresh trainer, continues the run
//! bit for bit: nothing that was drawn before has to be replayed.
//!
//! The validation objective draws the same noise at every evaluation (a fixed seed), so
//! successive validation losses compare parameters, not draws.
//!
//! **Data parallel, one code path.** A trainer runs on a [`Communicator`]: rank `k` of `N`
//! holds the batch positions [`part`]`(B, k, N)` of every global batch of `B` rows. Every
//! rank shuffles the same epoch order (keyed by the seed), so the rows of a batch are the
//! same whoever holds them, and a row's noise is keyed by its global position, so its draws
//! are too. Each rank evaluates the mean loss and gradient of its `b_k` rows; weighted by
//! `b_k / B` and summed over the ranks in rank order ([`Communicator::sum_f64`], in `f64`)
//! they are the global batch's mean loss and gradient. Every rank then takes the same
//! optimiser step on the same sum, so the parameters stay equal on all ranks without being
//! sent. The single process is the group of one ([`SingleProcess`]): its weight is exactly
//! 1 and its sum does nothing, so it computes exactly what it computed before ranks existed.
//! Every way out of the loop is agreed by all ranks (see [`crate::comm`]), so none is left
//! waiting in a collective.
//!
//! **Rows by index.** A trainer reads its batch through [`Rows`] at each step: from memory
//! (a [`crate::data::Dataset`]), or from a `.npy` file ([`crate::data::FileRows`]), so that a
//! rank reads the rows of its part of the batch and never holds the data set.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use rand::seq::SliceRandom;
use rayon::ThreadPool;
use scorematch_exec::thread_pool;
use scorematch_graph::Element;

use super::system::SystemFit;
use super::{
    BestValidation, ClosedFormFit, CompiledLoss, Control, HeldStep, StepMetrics, StopReason,
    TrainConfig, TrainReport,
};
use crate::comm::{Communicator, SingleProcess, failures, part};
use crate::data::Rows;
use crate::error::{ConfigError, Error, Result};
use crate::eval::HeldoutLoss;
use crate::model::Model;
use crate::objective::Objective;
use crate::optim::{Optimizer, OptimizerState, all_finite, clip_to_norm, grad_norm, step_on_pool};
use crate::rng::Stream;

/// Where a run stands after a step, beyond its parameters: what a resumed run restores.
/// Tensors are `f64` (exact for `f32` runs).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// Steps completed.
    pub step: usize,
    /// The optimiser's step count and moment buffers.
    pub optimizer: OptimizerState,
    /// The best validation loss so far and its step.
    pub best: Option<BestValidation>,
    /// Validation evaluations since the best one (early stopping's counter).
    pub since_best: usize,
    /// The parameters of the best validation step (when keep-best is on and there is one).
    pub best_params: Option<Vec<Vec<f64>>>,
}

/// A run of [`super::fit`] one step at a time: the loop is the caller's, so it can report,
/// write checkpoints and react to signals between steps.
pub struct Trainer<'a, T: Element> {
    comm: &'a dyn Communicator,
    /// This rank's positions in every global batch.
    rows: Range<usize>,
    /// What a step sums over the ranks: the stop flag, the failure flags (one per rank),
    /// then the weighted loss and gradients ([`Trainer::step`]); empty on one rank.
    reduced: Vec<f64>,
    train: &'a dyn Rows,
    validation: Option<(HeldoutLoss<T>, &'a dyn Rows)>,
    config: TrainConfig,
    loss: CompiledLoss<T>,
    system: Option<SystemFit<T>>,
    refitted_at: Option<usize>,
    trainable: Vec<bool>,
    optimizer: Box<dyn Optimizer<T>>,
    /// The executor's pool for `config.threads` (none for one thread): the optimiser
    /// updates large tensors in pieces on it.
    pool: Option<Arc<ThreadPool>>,
    params: Vec<Vec<T>>,
    grads: Vec<Vec<T>>,
    last_good: Vec<Vec<T>>,
    best_params: Option<Vec<Vec<T>>>,
    best: Option<(usize, f64)>,
    since_best: usize,
    batch: Vec<T>,
    /// The batch's rows as read, before conversion to `T`.
    rows_read: Vec<f64>,
    order: Vec<usize>,
    order_epoch: Option<usize>,
    steps_per_epoch: usize,
    total: usize,
    step: usize,
    first_step: usize,
    last_loss: Option<f64>,
    stop: Option<StopReason>,
    start: Instant,
}

impl<'a, T: Element> Trainer<'a, T> {
    /// A run of `model` on `train` by `objective` from `params` (validated and compiled
    /// here; nothing is trained yet), in this one process. Validation, when given, drives
    /// early stopping and keep-best.
    pub fn new(
        model: &dyn Model,
        objective: &Objective,
        train: &'a dyn Rows,
        validation: Option<&'a dyn Rows>,
        config: &TrainConfig,
        params: Vec<Vec<T>>,
    ) -> Result<Self> {
        Self::new_in(&SingleProcess, model, objective, train, validation, config, params)
    }

    /// [`Trainer::new`] for one rank of `comm` (see the module docs): every rank calls it
    /// with the same model, objective, data, configuration and parameters, and holds
    /// `train.batch_size / comm.size()` rows (±1) of every batch.
    pub fn new_in(
        comm: &'a dyn Communicator,
        model: &dyn Model,
        objective: &Objective,
        train: &'a dyn Rows,
        validation: Option<&'a dyn Rows>,
        config: &TrainConfig,
        params: Vec<Vec<T>>,
    ) -> Result<Self> {
        config.validate()?;
        config.check_ranks(comm.size())?;
        if train.d() != model.dim() {
            return Err(Error::Shape(format!(
                "data has {} columns but the model expects {}",
                train.d(),
                model.dim()
            )));
        }
        config.check_rows(train.n())?;
        let b = config.batch_size;
        let rows = part(b, comm.rank(), comm.size());
        let trainable = trainable_mask(model, &config.train_only)?;
        let (loss, system) = match config.closed_form_fit {
            ClosedFormFit::Batch => (
                CompiledLoss::<T>::new(model, objective, rows.len(), true, config.threads)?,
                SystemFit::new(model, objective, b, config.threads)?,
            ),
            ClosedFormFit::Stored => {
                let loss =
                    CompiledLoss::<T>::as_it_stands(model, objective, rows.len(), config.threads)?;
                (loss, None)
            }
        };
        let val_objective = config.val_objective.as_ref().unwrap_or(objective);
        let validation = match validation {
            Some(v) if v.n() > 0 => {
                Some((HeldoutLoss::<T>::new(model, val_objective, b, v.n(), config.threads)?, v))
            }
            _ => None,
        };
        let n_params: usize = params.iter().map(Vec::len).sum();
        Ok(Self {
            comm,
            // A single process reduces nothing (`reduce`).
            reduced: if comm.size() > 1 {
                vec![0.0; 2 + comm.size() + n_params]
            } else {
                Vec::new()
            },
            train,
            validation,
            config: config.clone(),
            loss,
            system,
            refitted_at: None,
            trainable,
            optimizer: config.optimizer.build::<T>()?,
            pool: thread_pool(config.threads)?,
            grads: params.iter().map(|p| vec![T::zero(); p.len()]).collect(),
            last_good: params.clone(),
            params,
            best_params: None,
            best: None,
            since_best: 0,
            batch: vec![T::zero(); rows.len() * train.d()],
            rows_read: vec![0.0; rows.len() * train.d()],
            rows,
            order: (0..train.n()).collect(),
            order_epoch: None,
            steps_per_epoch: train.n() / b,
            total: config.total_steps(train.n())?,
            step: 0,
            first_step: 0,
            last_loss: None,
            stop: None,
            start: Instant::now(),
        })
    }

    /// Continues from `state`, taken by [`Trainer::state`] of a run of the same model,
    /// objective, data and configuration (up to its planned steps); the trainer's
    /// parameters must be that run's at `state.step`. Errors when the run has already
    /// planned no further step, or when a tensor does not fit.
    pub fn restore(&mut self, state: &TrainState) -> Result<()> {
        if state.step >= self.total {
            return Err(Error::InvalidArgument(format!(
                "the run has already completed {} steps of the {} planned: plan more steps to \
                 continue it",
                state.step, self.total
            )));
        }
        self.optimizer.load_state(&state.optimizer)?;
        let best_params = state
            .best_params
            .as_ref()
            .map(|saved| {
                if saved.len() != self.params.len()
                    || saved.iter().zip(&self.params).any(|(s, p)| s.len() != p.len())
                {
                    return Err(Error::Shape(
                        "the saved best parameters do not fit the model".into(),
                    ));
                }
                Ok(saved.iter().map(|s| s.iter().map(|&v| T::from_f64(v)).collect()).collect())
            })
            .transpose()?;
        self.best_params = best_params;
        self.best = state.best.map(|b| (b.step, b.loss));
        self.since_best = state.since_best;
        self.step = state.step;
        self.first_step = state.step;
        self.start = Instant::now();
        Ok(())
    }

    /// Runs the next step and returns its metrics; `None` once the run has ended (all steps
    /// done, stopped early, interrupted, or a non-finite loss: see [`Trainer::stop_reason`]).
    ///
    /// On several ranks this is collective: every rank calls it, and all return the same
    /// (an interrupt on one rank stops all; an error on one is every rank's
    /// [`Error::Rank`]).
    pub fn step(&mut self) -> Result<Option<StepMetrics>> {
        let metrics = self.advance()?;
        if metrics.is_none() {
            // The run has ended: a closed-form model's statistics follow the final
            // parameters.
            self.refit()?;
        }
        Ok(metrics)
    }

    /// [`Trainer::step`] but for the closed-form refit at the end.
    fn advance(&mut self) -> Result<Option<StepMetrics>> {
        if self.step >= self.total {
            self.stop.get_or_insert(StopReason::Completed);
            return Ok(None);
        }
        let step = self.step + 1;
        // One sum a step carries everything the ranks must agree on: whether any rank
        // stops (an interrupt), whether any failed, and the loss and gradients.
        let local = if self.stop.is_some() { Ok(None) } else { self.local_step(step).map(Some) };
        let value = self.reduce(local)?;
        let Some(value) = value else {
            self.stop.get_or_insert(StopReason::Interrupted);
            return Ok(None);
        };
        for (g, _) in self.grads.iter_mut().zip(&self.trainable).filter(|(_, t)| !**t) {
            g.fill(T::zero());
        }
        let norm = grad_norm(&self.grads);
        // Invariant: the parameters are finite here (the previous update was checked), so a
        // non-finite loss or gradient leaves them as the last completed step's.
        if !value.is_finite() || !norm.is_finite() {
            self.stop = Some(StopReason::NonFinite { step });
            return Ok(None);
        }
        let epoch = (step - 1) / self.steps_per_epoch;
        if let Some(max) = self.config.clip_grad_norm {
            clip_to_norm(&mut self.grads, norm, max)?;
        }
        let lr = self.config.schedule.lr_at(step as u64 - 1, self.config.lr);
        copy_into(&mut self.last_good, &self.params);
        let pool = self.pool.as_deref();
        step_on_pool(self.optimizer.as_mut(), pool, &mut self.params, &self.grads, lr)?;
        // Frozen parameters keep their values whatever the optimiser does with a zero
        // gradient (weight decay would move them).
        for ((p, old), _) in
            self.params.iter_mut().zip(&self.last_good).zip(&self.trainable).filter(|(_, t)| !**t)
        {
            p.copy_from_slice(old);
        }
        if !all_finite(&self.params) {
            // The optimiser's moments have taken this step; the run ends here, and its
            // state (see `state`) is no longer one to resume from.
            copy_into(&mut self.params, &self.last_good);
            self.stop = Some(StopReason::NonFinite { step });
            return Ok(None);
        }
        self.step = step;
        self.last_loss = Some(value);
        let elapsed = self.start.elapsed().as_secs_f64().max(1e-9);
        let mut metrics = StepMetrics {
            step,
            total_steps: self.total,
            epoch,
            loss: value,
            grad_norm: norm,
            lr,
            steps_per_sec: (step - self.first_step) as f64 / elapsed,
            val_loss: None,
        };
        self.validate_after(&mut metrics)?;
        if self.stop.is_none() && step == self.total {
            self.stop = Some(StopReason::Completed);
        }
        Ok(Some(metrics))
    }

    /// This rank's part of step `step`: its rows of the global batch gathered, their
    /// keyed noise drawn, the loss evaluated; returns their mean loss, the gradient being in
    /// the gradient buffers.
    fn local_step(&mut self, step: usize) -> Result<f64> {
        let b = self.config.batch_size;
        let epoch = (step - 1) / self.steps_per_epoch;
        let pos = (step - 1) % self.steps_per_epoch;
        if self.order_epoch != Some(epoch) {
            self.order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
            self.order.shuffle(&mut Stream::Batches.keyed(self.config.seed, &[epoch as u64]));
            self.order_epoch = Some(epoch);
        }
        let mine = pos * b + self.rows.start..pos * b + self.rows.end;
        self.train.read(&self.order[mine], &mut self.rows_read)?;
        self.batch.iter_mut().zip(&self.rows_read).for_each(|(o, &v)| *o = T::from_f64(v));
        let first = self.rows.start;
        self.loss.draw_noise_keyed(Stream::Noise, self.config.seed, step as u64, first);
        let value = self.loss.evaluate(&self.params, &self.batch)?;
        self.loss.copy_grads(&mut self.grads)?;
        Ok(value)
    }

    /// Sums over the ranks, in one [`Communicator::sum_f64`], whether a rank stops
    /// (`local` is `Ok(None)`: it did not compute), which failed, and each rank's mean loss
    /// and gradient weighted by its share of the batch. Returns the global batch's mean
    /// loss, its gradient in the gradient buffers; `None` when a rank stops; the lowest
    /// failing rank's error ([`failures`]) when one failed.
    fn reduce(&mut self, local: Result<Option<f64>>) -> Result<Option<f64>> {
        let n = self.comm.size();
        if n == 1 {
            // Nothing to exchange: the rank's own loss and gradient are the batch's (its
            // weight is 1, so the sum would give the same bits).
            return local;
        }
        let (flags, sums) = self.reduced.split_at_mut(1 + n);
        flags.fill(0.0);
        sums.fill(0.0);
        match &local {
            Ok(None) => flags[0] = 1.0,
            Err(_) => flags[1 + self.comm.rank()] = 1.0,
            Ok(Some(value)) => {
                let weight = self.rows.len() as f64 / self.config.batch_size as f64;
                sums[0] = value * weight;
                let grads = self.grads.iter().flatten();
                sums[1..].iter_mut().zip(grads).for_each(|(o, &g)| *o = g.to_f64() * weight);
            }
        }
        self.comm.sum_f64(&mut self.reduced);
        let (flags, sums) = self.reduced.split_at(1 + n);
        failures(self.comm, &flags[1..], local)?;
        if flags[0] > 0.0 {
            return Ok(None);
        }
        let grads = self.grads.iter_mut().flatten();
        grads.zip(&sums[1..]).for_each(|(g, &v)| *g = T::from_f64(v));
        Ok(Some(sums[0]))
    }

    /// Evaluates the validation objective when it is due, updating the best step and the
    /// early-stopping counter.
    fn validate_after(&mut self, metrics: &mut StepMetrics) -> Result<()> {
        let step = metrics.step;
        if self.validation.is_none()
            || !step.is_multiple_of(self.config.eval_every.max(1)) && step != self.total
        {
            return Ok(());
        }
        self.refit()?;
        let Some((loss, data)) = self.validation.as_mut() else { return Ok(()) };
        let seed = Stream::Validation.seed(self.config.seed);
        let v = loss.mean_in(self.comm, &self.params, *data, seed)?;
        metrics.val_loss = Some(v);
        if v.is_finite() && self.best.is_none_or(|(_, bv)| v < bv) {
            self.best = Some((step, v));
            if self.config.keep_best {
                match self.best_params.as_mut() {
                    Some(best) => copy_into(best, &self.params),
                    None => self.best_params = Some(self.params.clone()),
                }
            }
            self.since_best = 0;
        } else {
            self.since_best += 1;
            if self.config.patience.is_some_and(|p| self.since_best >= p) {
                self.stop = Some(StopReason::EarlyStopped);
            }
        }
        Ok(())
    }

    /// Brings a closed-form model's stored statistics up to date with the current
    /// parameters ([`SystemFit`]), once per step; nothing for other models.
    fn refit(&mut self) -> Result<()> {
        if let Some(system) = self.system.as_mut().filter(|_| self.refitted_at != Some(self.step)) {
            system.refit(&mut self.params, self.train, self.config.seed)?;
            self.refitted_at = Some(self.step);
        }
        Ok(())
    }

    /// Asks the run to stop: the next [`Trainer::step`] returns `None` and the report says
    /// `Interrupted` (unless the run had already ended for another reason).
    pub fn interrupt(&mut self) {
        self.stop.get_or_insert(StopReason::Interrupted);
    }

    /// Why the run ended, once it has.
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop.as_ref()
    }

    /// Steps completed.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Steps the run plans in all.
    pub fn total_steps(&self) -> usize {
        self.total
    }

    /// The parameters after the last completed step.
    pub fn params(&self) -> &[Vec<T>] {
        &self.params
    }

    /// The parameters a finished run keeps, and which step they are: the best validation
    /// step's when keep-best is on and validation ran, else the last completed step's.
    /// This holds however the run ended, so a run stopped because its validation loss rose
    /// keeps its best step.
    pub fn kept(&self) -> (HeldStep, &[Vec<T>]) {
        match (self.best, &self.best_params) {
            (Some((step, _)), Some(best)) => (HeldStep::best(step), best),
            _ => (HeldStep::last(self.step), &self.params),
        }
    }

    /// The state to restore with [`Trainer::restore`] (with [`Trainer::params`]). After a
    /// non-finite stop it is not one to resume from (the run would diverge again; the
    /// optimiser may also have taken the failed step): keep an earlier state instead.
    pub fn state(&self) -> TrainState {
        TrainState {
            step: self.step,
            optimizer: self.optimizer.state(),
            best: self.best.map(|(step, loss)| BestValidation { step, loss }),
            since_best: self.since_best,
            best_params: self.best_params.as_deref().map(to_f64),
        }
    }

    /// The outcome so far, with `history` (the caller's record of the steps it saw). A run
    /// that has not ended reports [`StopReason::InProgress`].
    pub fn report(&self, history: Vec<StepMetrics>) -> TrainReport {
        TrainReport {
            history,
            stop: self.stop.clone().unwrap_or(StopReason::InProgress),
            steps_done: self.step,
            best: self.best,
            held: self.kept().0,
            final_loss: self.last_loss,
            seconds: self.start.elapsed().as_secs_f64(),
        }
    }
}

/// Steps `trainer` to its end, calling `hook` after every step (its [`Control::Stop`]
/// interrupts the run), and reports the run with every step's metrics: the loop of
/// [`super::fit`] and [`crate::handle::ModelHandle::fit`].
pub fn run_to_end(
    trainer: &mut dyn AnyTrainer,
    hook: &mut dyn FnMut(&StepMetrics) -> Control,
) -> Result<TrainReport> {
    let mut history = Vec::with_capacity(trainer.total_steps().min(1 << 16));
    while let Some(metrics) = trainer.step()? {
        if hook(&metrics) == Control::Stop {
            trainer.interrupt();
        }
        history.push(metrics);
    }
    Ok(trainer.report(history))
}

/// Which of `model`'s parameters train under `prefixes` ([`TrainConfig::train_only`]):
/// those whose names start with one of them; every parameter when there are none. Errors
/// when a prefix matches no parameter (a typo would otherwise silently train nothing).
pub fn trainable_mask(model: &dyn Model, prefixes: &[String]) -> Result<Vec<bool>> {
    let names: Vec<String> = model.param_specs().into_iter().map(|s| s.name).collect();
    if prefixes.is_empty() {
        return Ok(vec![true; names.len()]);
    }
    if let Some(unmatched) = prefixes.iter().find(|p| !names.iter().any(|n| n.starts_with(*p))) {
        return Err(ConfigError::new(
            "train.train_only",
            unmatched,
            format!("prefixes of the model's parameter names: {}", names.join(", ")),
        )
        .into());
    }
    Ok(names.iter().map(|n| prefixes.iter().any(|p| n.starts_with(p))).collect())
}

/// Tensors as `f64` (exact from `f32`).
pub(crate) fn to_f64<T: Element>(tensors: &[Vec<T>]) -> Vec<Vec<f64>> {
    tensors.iter().map(|t| t.iter().map(|&v| Element::to_f64(v)).collect()).collect()
}

/// Copies tensor values tensor by tensor (no allocation).
pub(crate) fn copy_into<T: Copy>(dst: &mut [Vec<T>], src: &[Vec<T>]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| d.copy_from_slice(s));
}

/// A [`Trainer`] whatever its element type: what a front that picks the precision at run
/// time (see [`crate::handle::ModelHandle::trainer`]) steps. Tensors come out as `f64`
/// (exact).
pub trait AnyTrainer {
    /// [`Trainer::step`].
    fn step(&mut self) -> Result<Option<StepMetrics>>;
    /// [`Trainer::interrupt`].
    fn interrupt(&mut self);
    /// [`Trainer::stop_reason`].
    fn stop_reason(&self) -> Option<&StopReason>;
    /// [`Trainer::steps_done`].
    fn steps_done(&self) -> usize;
    /// [`Trainer::total_steps`].
    fn total_steps(&self) -> usize;
    /// [`Trainer::params`], as `f64`.
    fn params_f64(&self) -> Vec<Vec<f64>>;
    /// [`Trainer::kept`], as `f64`.
    fn kept_f64(&self) -> (HeldStep, Vec<Vec<f64>>);
    /// [`Trainer::state`].
    fn state(&self) -> TrainState;
    /// [`Trainer::report`].
    fn report(&self, history: Vec<StepMetrics>) -> TrainReport;
}

impl<T: Element> AnyTrainer for Trainer<'_, T> {
    fn step(&mut self) -> Result<Option<StepMetrics>> {
        Trainer::step(self)
    }
    fn interrupt(&mut self) {
        Trainer::interrupt(self);
    }
    fn stop_reason(&self) -> Option<&StopReason> {
        Trainer::stop_reason(self)
    }
    fn steps_done(&self) -> usize {
        Trainer::steps_done(self)
    }
    fn total_steps(&self) -> usize {
        Trainer::total_steps(self)
    }
    fn params_f64(&self) -> Vec<Vec<f64>> {
        to_f64(&self.params)
    }
    fn kept_f64(&self) -> (HeldStep, Vec<Vec<f64>>) {
        let (held, params) = self.kept();
        (held, to_f64(params))
    }
    fn state(&self) -> TrainState {
        Trainer::state(self)
    }
    fn report(&self, history: Vec<StepMetrics>) -> TrainReport {
        Trainer::report(self, history)
    }
}
