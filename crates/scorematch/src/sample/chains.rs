//! Chain initialisation and the recording of kept states and trajectories, shared by the
//! samplers. Every buffer is allocated before the first step.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{SamplerConfig, Samples};
use crate::error::{Error, Result};

/// Initial states, (n_chains × D) row-major: rows of `start` in turn (chain c starts at row
/// c mod R of the R given rows), or N(0, init_std² I) draws.
pub(crate) fn init_chains(
    config: &SamplerConfig,
    dim: usize,
    start: Option<&[f64]>,
    rng: &mut impl Rng,
) -> Result<Vec<f64>> {
    let n = config.n_chains;
    match start {
        Some(s) => {
            if s.is_empty() || !s.len().is_multiple_of(dim) {
                return Err(Error::Shape(format!(
                    "start points: {} values are not whole rows of dimension {dim}",
                    s.len()
                )));
            }
            if s.iter().any(|v| !v.is_finite()) {
                return Err(Error::NonFinite("start points contain NaN or Inf".into()));
            }
            Ok(s.chunks_exact(dim).cycle().take(n).flatten().copied().collect())
        }
        None => Ok((0..n * dim)
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                config.init_std * z
            })
            .collect()),
    }
}

/// Adds `scale`·ξ, ξ ~ N(0, I) independently, to every entry of `x`.
pub(crate) fn add_noise(x: &mut [f64], scale: f64, rng: &mut impl Rng) {
    for v in x.iter_mut() {
        let z: f64 = StandardNormal.sample(rng);
        *v += scale * z;
    }
}

/// Errors when a state stopped being finite.
pub(crate) fn check_finite(x: &[f64], step: usize) -> Result<()> {
    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite(format!(
            "the chains diverged at step {step} (a state became NaN or Inf); lower the step size"
        )))
    }
}

/// Keeps the last `keep_last` states every `thin` steps, and the trajectories of the first
/// `trace_chains` chains every `trace_every` steps (from the initial state on).
pub(crate) struct Recorder {
    n_chains: usize,
    dim: usize,
    total: usize,
    keep: usize,
    thin: usize,
    samples: Vec<f64>,
    kept: usize,
    trace_every: usize,
    trajectories: Vec<Vec<f64>>,
}

impl Recorder {
    /// A recorder for `total` steps of the configured chains, holding the initial states.
    pub(crate) fn new(config: &SamplerConfig, dim: usize, total: usize, initial: &[f64]) -> Self {
        let n_traced = config.trace_chains.min(config.n_chains);
        let every = config.trace_every.max(1);
        let points = total / every + 1;
        let mut r = Self {
            n_chains: config.n_chains,
            dim,
            total,
            keep: config.keep_last,
            thin: config.thin.max(1),
            samples: vec![0.0; config.keep_last * config.n_chains * dim],
            kept: 0,
            trace_every: every,
            trajectories: (0..n_traced).map(|_| Vec::with_capacity(points * dim)).collect(),
        };
        r.trace(initial);
        r
    }

    fn trace(&mut self, x: &[f64]) {
        for (c, t) in self.trajectories.iter_mut().enumerate() {
            t.extend_from_slice(&x[c * self.dim..(c + 1) * self.dim]);
        }
    }

    /// Whether the state after step `t` (1-based) is one of the kept ones: t = T − k·thin
    /// for k < keep_last.
    pub(crate) fn wants_keep(&self, t: usize) -> bool {
        let back = self.total - t;
        back.is_multiple_of(self.thin) && back / self.thin < self.keep
    }

    /// The slot of the next kept snapshot, to be filled by the caller (n_chains × D).
    pub(crate) fn keep_slot(&mut self) -> &mut [f64] {
        let len = self.n_chains * self.dim;
        let k = self.kept.min(self.keep.saturating_sub(1));
        self.kept += 1;
        &mut self.samples[k * len..(k + 1) * len]
    }

    /// Records the state `x` after step `t` (1-based): trajectory and, when kept, a copy.
    pub(crate) fn after_step(&mut self, t: usize, x: &[f64]) {
        if t.is_multiple_of(self.trace_every) {
            self.trace(x);
        }
        if self.wants_keep(t) {
            self.keep_slot().copy_from_slice(x);
        }
    }

    /// Records only the trajectory point of step `t` (the caller kept the state itself).
    pub(crate) fn after_step_trace_only(&mut self, t: usize, x: &[f64]) {
        if t.is_multiple_of(self.trace_every) {
            self.trace(x);
        }
    }

    /// The collected samples.
    pub(crate) fn finish(self, acceptance_rate: Option<f64>) -> Samples {
        Samples {
            dim: self.dim,
            n_chains: self.n_chains,
            n_kept: self.keep,
            samples: self.samples,
            trajectories: self.trajectories,
            trace_every: self.trace_every,
            steps: self.total,
            acceptance_rate,
        }
    }
}
