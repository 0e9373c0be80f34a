//! Optimisers (SGD, Adam, AdamW), gradient-norm clipping and learning-rate schedules.
//!
//! Parameters are a list of flat tensors `&mut [Vec<T>]` with matching gradients `&[Vec<T>]`
//! (`T = f32` or `f64`). This needs no allocation per step: the model keeps its parameters in
//! `Vec`s and hands the same list to every step. Optimiser state (moment buffers) is
//! allocated once, on the first step, with the parameters' lengths; later steps check that the
//! lengths still match and never allocate.
//!
//! Update rules are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`, non-`amsgrad`,
//! non-`maximize`), operation for operation, including Adam's bias correction with `ε` added
//! after the square root, so a run can be compared with PyTorch step by step. Hyper-parameters
//! and the learning rate are `f64`; they are converted to `T` for the element updates.
//!
//! State is exported as named flat `f64` tensors (`"{i}.exp_avg"`, `"{i}.exp_avg_sq"`,
//! `"{i}.momentum_buffer"`, where `i` is the parameter's position, as in PyTorch's
//! `optimizer.state_dict()["state"][i]`), plus the step count, for checkpoints.

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub(crate) use clip::clip_to_norm;
pub use clip::{all_finite, clip_grad_norm, grad_norm};
pub use schedule::{Schedule, ScheduleName};
pub use sgd::Sgd;

use std::collections::BTreeMap;

use num_traits::Float;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::{Error, Result};

/// A first-order optimiser over a list of flat parameter tensors.
pub trait Optimizer<T: Float>: Send {
    /// Applies one update with learning rate `lr` (`≥ 0`, finite): `params[i]` is updated
    /// from `grads[i]`. Errors (and changes nothing) when the number or lengths of the tensors
    /// differ from each other or from the optimiser's state.
    fn step(&mut self, params: &mut [Vec<T>], grads: &[Vec<T>], lr: f64) -> Result<()>;

    /// Number of steps taken (including those restored by [`Optimizer::load_state`]).
    fn step_count(&self) -> u64;

    /// The state (step count and buffers, as `f64`), for a checkpoint.
    fn state(&self) -> OptimizerState;

    /// Restores a state produced by [`Optimizer::state`] of the same kind of optimiser.
    /// Errors name a missing, unexpected or mis-sized tensor.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;

    /// Forgets all state (step count 0, buffers released).
    fn reset(&mut self);

    /// The optimiser's kind and hyper-parameters.
    fn kind(&self) -> OptimizerKind;
}

/// Elements per piece when an update (or the sum of a batch's slices' gradients,
/// `train/parts.rs`) is split across threads.
pub(crate) const PIECE: usize = 1 << 14;

/// Whether a tensor of `len` elements is worked on in pieces side by side inside a pool:
/// when it makes at least two pieces.
pub(crate) fn splits(len: usize) -> bool {
    len >= 2 * PIECE
}

/// `pool` when one of `tensors` [`splits`], else none. A call handed to a pool from outside
/// it must wake a pool thread, 70–100 µs when the thread has slept 50 µs or more (measured
/// on the 2-core AMD EPYC virtual machine), and tensors of one piece would run on one
/// thread anyway: G1's two-thread step ran 1.07–1.20× faster without those wake-ups.
pub(crate) fn pool_worth<'p, T>(
    pool: Option<&'p rayon::ThreadPool>,
    tensors: &[Vec<T>],
) -> Option<&'p rayon::ThreadPool> {
    pool.filter(|_| tensors.iter().any(|t| splits(t.len())))
}

/// One optimiser step as a training step takes it (the trainer's, and `bench`'s copy of
/// it): on the executor's `pool` when a tensor is big enough to split ([`pool_worth`]),
/// else on the calling thread.
pub(crate) fn step_on_pool<T: Float + Send + Sync>(
    optimizer: &mut dyn Optimizer<T>,
    pool: Option<&rayon::ThreadPool>,
    params: &mut [Vec<T>],
    grads: &[Vec<T>],
    lr: f64,
) -> Result<()> {
    scorematch_exec::on_pool(pool_worth(pool, params), || optimizer.step(params, grads, lr))
}

/// Runs `update` on the parameter `p`, its gradient `g` and two state buffers `a`, `b` of
/// equal length, all at once or — inside a rayon pool of several threads (a run with
/// `threads > 1` steps its optimiser on the executor's pool) and for a tensor of at least
/// two pieces — on pieces of [`PIECE`] elements side by side. Every element's update is
/// independent of the others, so both give the same bits; a one-thread run (outside any
/// pool) never touches rayon.
pub(crate) fn elementwise4<T, F>(p: &mut [T], g: &[T], a: &mut [T], b: &mut [T], update: F)
where
    T: Send + Sync,
    F: Fn(&mut [T], &[T], &mut [T], &mut [T]) + Sync,
{
    let pooled = rayon::current_thread_index().is_some() && rayon::current_num_threads() > 1;
    if !pooled || !splits(p.len()) {
        return update(p, g, a, b);
    }
    use rayon::prelude::*;
    p.par_chunks_mut(PIECE)
        .zip(g.par_chunks(PIECE))
        .zip(a.par_chunks_mut(PIECE))
        .zip(b.par_chunks_mut(PIECE))
        .for_each(|(((p, g), a), b)| update(p, g, a, b));
}

/// One named flat buffer of an optimiser's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateTensor {
    /// `"{param index}.{buffer}"`, e.g. `"0.exp_avg"`.
    pub name: String,
    /// The buffer's values (as long as the parameter tensor).
    pub data: Vec<f64>,
}

/// An optimiser's exportable state: its step count and named buffers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Steps taken so far.
    pub step: u64,
    /// Buffers, in parameter order.
    pub tensors: Vec<StateTensor>,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_adamw_decay() -> f64 {
    0.01
}

crate::names::named_enum! {
    /// An optimiser family (the `kind` of an [`OptimizerKind`]).
    pub enum OptimizerName: "optimizer" {
        /// Stochastic gradient descent (with momentum).
        Sgd = "sgd",
        /// Adam.
        Adam = "adam",
        /// Adam with decoupled weight decay.
        Adamw = "adamw",
    }
}

impl OptimizerName {
    /// The weight decay the family uses unless told otherwise (PyTorch's: 0.01 for AdamW,
    /// 0 for the others).
    pub fn default_weight_decay(self) -> f64 {
        if self == OptimizerName::Adamw { default_adamw_decay() } else { 0.0 }
    }
}

/// Which optimiser to use and its hyper-parameters (defaults are PyTorch's); serialisable for
/// run configurations (`{"kind": "adam", "beta1": 0.9, …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerKind {
    /// Stochastic gradient descent, optionally with (Nesterov) momentum; see [`Sgd`].
    Sgd {
        /// Momentum factor μ (0 = plain SGD).
        #[serde(default)]
        momentum: f64,
        /// Dampening τ of the momentum update.
        #[serde(default)]
        dampening: f64,
        /// Nesterov momentum (needs μ > 0 and τ = 0).
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty λ added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam with L2 weight decay added to the gradient; see [`Adam`].
    Adam {
        /// β₁, decay of the first moment.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// β₂, decay of the second moment.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// ε added to the denominator after the square root.
        #[serde(default = "default_eps")]
        eps: f64,
        /// L2 penalty λ added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam with decoupled weight decay; see [`AdamW`].
    AdamW {
        /// β₁, decay of the first moment.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// β₂, decay of the second moment.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// ε added to the denominator after the square root.
        #[serde(default = "default_eps")]
        eps: f64,
        /// Decoupled decay λ: `θ ← θ(1 − lr·λ)` each step (PyTorch default 0.01).
        #[serde(default = "default_adamw_decay")]
        weight_decay: f64,
    },
}

impl Default for OptimizerKind {
    /// Adam with PyTorch's defaults.
    fn default() -> Self {
        OptimizerKind::Adam {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: 0.0,
        }
    }
}

impl OptimizerKind {
    /// The optimiser of family `name` with PyTorch's defaults, but for the SGD `momentum`
    /// (ignored by the Adams) and the `weight_decay`.
    pub fn of(name: OptimizerName, momentum: f64, weight_decay: f64) -> Self {
        let (beta1, beta2, eps) = (default_beta1(), default_beta2(), default_eps());
        match name {
            OptimizerName::Sgd => {
                OptimizerKind::Sgd { momentum, dampening: 0.0, nesterov: false, weight_decay }
            }
            OptimizerName::Adam => OptimizerKind::Adam { beta1, beta2, eps, weight_decay },
            OptimizerName::Adamw => OptimizerKind::AdamW { beta1, beta2, eps, weight_decay },
        }
    }

    /// Plain SGD (no momentum, no decay).
    pub fn sgd() -> Self {
        OptimizerKind::Sgd { momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0 }
    }

    /// AdamW with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8, λ = 0.01).
    pub fn adamw() -> Self {
        OptimizerKind::AdamW {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: default_adamw_decay(),
        }
    }

    /// The family.
    pub fn family(&self) -> OptimizerName {
        match self {
            OptimizerKind::Sgd { .. } => OptimizerName::Sgd,
            OptimizerKind::Adam { .. } => OptimizerName::Adam,
            OptimizerKind::AdamW { .. } => OptimizerName::Adamw,
        }
    }

    /// Buffers of the optimiser's state, each the size of the parameters: Adam's two
    /// moments, SGD's momentum buffer (none without momentum).
    pub fn state_buffers(&self) -> usize {
        match *self {
            OptimizerKind::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            OptimizerKind::Adam { .. } | OptimizerKind::AdamW { .. } => 2,
        }
    }

    /// Short name: `"sgd"`, `"adam"` or `"adamw"`.
    pub fn name(&self) -> &'static str {
        self.family().name()
    }

    /// Checks the hyper-parameters (PyTorch's rules: `0 ≤ β < 1`, `ε ≥ 0`, `λ ≥ 0`,
    /// momentum `≥ 0`, Nesterov needs momentum `> 0` and zero dampening; all finite).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            OptimizerKind::Sgd { momentum, dampening, nesterov, weight_decay } => {
                ConfigError::non_negative("train.momentum", momentum)?;
                ConfigError::non_negative("train.weight_decay", weight_decay)?;
                if !dampening.is_finite() {
                    return Err(ConfigError::new("train.dampening", dampening, "must be finite"));
                }
                if nesterov && (momentum <= 0.0 || dampening != 0.0) {
                    return Err(ConfigError::new(
                        "train.nesterov",
                        nesterov,
                        "needs train.momentum > 0 and train.dampening = 0",
                    ));
                }
            }
            OptimizerKind::Adam { beta1, beta2, eps, weight_decay }
            | OptimizerKind::AdamW { beta1, beta2, eps, weight_decay } => {
                for (field, b) in [("train.beta1", beta1), ("train.beta2", beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(ConfigError::new(field, b, "must be in [0, 1)"));
                    }
                }
                ConfigError::non_negative("train.eps", eps)?;
                ConfigError::non_negative("train.weight_decay", weight_decay)?;
            }
        }
        Ok(())
    }

    /// Builds the optimiser (after [`OptimizerKind::validate`]).
    pub fn build<T: Float + Send + Sync + 'static>(&self) -> Result<Box<dyn Optimizer<T>>> {
        self.validate()?;
        Ok(match *self {
            OptimizerKind::Sgd { momentum, dampening, nesterov, weight_decay } => {
                Box::new(Sgd::new(momentum, dampening, nesterov, weight_decay)?)
            }
            OptimizerKind::Adam { beta1, beta2, eps, weight_decay } => {
                Box::new(Adam::new(beta1, beta2, eps, weight_decay)?)
            }
            OptimizerKind::AdamW { beta1, beta2, eps, weight_decay } => {
                Box::new(AdamW::new(beta1, beta2, eps, weight_decay)?)
            }
        })
    }
}

/// `f64 → T`; exact for `f64`, rounding for `f32` (never fails for the float types).
pub(crate) fn cast<T: Float>(x: f64) -> T {
    T::from(x).unwrap_or_else(T::nan)
}

/// Checks a step's inputs: equal counts and lengths, a finite non-negative learning rate.
pub(crate) fn check_step<T>(params: &[Vec<T>], grads: &[Vec<T>], lr: f64) -> Result<()> {
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "learning rate must be finite and >= 0, got {lr}"
        )));
    }
    if params.len() != grads.len() {
        return Err(Error::Shape(format!(
            "optimizer step: {} parameter tensors but {} gradient tensors",
            params.len(),
            grads.len()
        )));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.len() != g.len() {
            return Err(Error::Shape(format!(
                "optimizer step: parameter {i} has {} values but its gradient has {}",
                p.len(),
                g.len()
            )));
        }
    }
    Ok(())
}

/// Allocates zeroed buffers shaped like `params` when `bufs` is empty (the first step) and
/// returns `true`; otherwise checks that they still match and returns `false`.
pub(crate) fn ensure_buffers<T: Float>(
    bufs: &mut Vec<Vec<T>>,
    params: &[Vec<T>],
    what: &str,
) -> Result<bool> {
    if bufs.is_empty() && !params.is_empty() {
        *bufs = params.iter().map(|p| vec![T::zero(); p.len()]).collect();
        return Ok(true);
    }
    if bufs.len() != params.len() {
        return Err(Error::Shape(format!(
            "optimizer state has {} {what} tensors but {} parameter tensors were given \
             (did the model change after the optimizer state was created or loaded?)",
            bufs.len(),
            params.len()
        )));
    }
    for (i, (b, p)) in bufs.iter().zip(params).enumerate() {
        if b.len() != p.len() {
            return Err(Error::Shape(format!(
                "optimizer state tensor {i}.{what} has {} values but parameter {i} has {}",
                b.len(),
                p.len()
            )));
        }
    }
    Ok(false)
}

/// Appends one buffer, converted to `f64`, as a named state tensor.
pub(crate) fn export_buffer<T: Float>(buf: &[T], name: String, out: &mut Vec<StateTensor>) {
    out.push(StateTensor {
        name,
        data: buf.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect(),
    });
}

/// Imports buffers for each `key` from `state`: tensors `"0.{key}"`, `"1.{key}"`, … (in any
/// order) must be present for every key with the same count and lengths, and nothing else
/// may be.
pub(crate) fn import_buffers<T: Float>(
    state: &OptimizerState,
    keys: &[&str],
) -> Result<Vec<Vec<Vec<T>>>> {
    let bad = |m: String| Error::InvalidArgument(format!("optimizer state: {m}"));
    let mut found: Vec<BTreeMap<usize, &[f64]>> = vec![BTreeMap::new(); keys.len()];
    for t in &state.tensors {
        let parsed = t.name.split_once('.').and_then(|(idx, key)| {
            let k = keys.iter().position(|k| *k == key)?;
            Some((k, idx.parse::<usize>().ok()?))
        });
        let (k, i) = parsed.ok_or_else(|| {
            bad(format!("unexpected tensor '{}' (expected names like '0.{}')", t.name, keys[0]))
        })?;
        if found[k].insert(i, &t.data).is_some() {
            return Err(bad(format!("tensor '{}' appears twice", t.name)));
        }
    }
    let count = found[0].len();
    let mut out = Vec::with_capacity(keys.len());
    for (k, map) in found.iter().enumerate() {
        if map.len() != count {
            return Err(bad(format!(
                "{} '{}' tensors but {count} '{}' tensors",
                map.len(),
                keys[k],
                keys[0]
            )));
        }
        let mut bufs = Vec::with_capacity(count);
        for i in 0..count {
            let data =
                map.get(&i).ok_or_else(|| bad(format!("missing tensor '{i}.{}'", keys[k])))?;
            let reference = found[0].get(&i).map_or(0, |d| d.len());
            if data.len() != reference {
                return Err(bad(format!(
                    "'{i}.{}' has {} values but '{i}.{}' has {reference}",
                    keys[k],
                    data.len(),
                    keys[0]
                )));
            }
            bufs.push(data.iter().map(|&v| cast(v)).collect());
        }
        out.push(bufs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
