//! Sampling from a fitted model by Langevin dynamics, in model coordinates.
//!
//! All chains advance together as one batch (one compiled evaluation per step); every
//! buffer is allocated before the first step. With ε_t the step size, ξ ~ N(0, I) and τ
//! the noise scale (temperature; τ = 1 samples p itself):
//!
//! - **Unadjusted Langevin** ([`langevin`]): x ← x + ε_t s(x) + τ√(2ε_t) ξ. Biased by O(ε)
//!   for ε > 0 (for a Gaussian with covariance Σ, the chain's stationary covariance is
//!   Σ(I − εΣ⁻¹/2)⁻¹ per eigen-direction, i.e. λ → λ/(1 − ε/(2λ))).
//! - **MALA** ([`mala`]): the same proposal x' (τ = 1), accepted with probability
//!   min(1, α), log α = −f(x') + f(x) − ‖x − x' − ε s(x')‖²/(4ε) + ‖x' − x − ε s(x)‖²/(4ε):
//!   Metropolis–Hastings makes p exactly stationary. Needs an energy.
//! - **Annealed Langevin** ([`annealed`], Song & Ermon 2019) for noise-conditional score
//!   networks: for σ₁ > … > σ_L, T steps each with αᵢ = ε·σᵢ²/σ_L²,
//!   x ← x + αᵢ s(x, σᵢ) + τ√(2αᵢ) ξ; optionally a final denoising step
//!   x ← x + σ_L² s(x, σ_L) (Tweedie's formula: E[x₀ | x] for x = x₀ + σ_L z).
//!
//! Samplers take a [`ScoreFn`]: the compiled model ([`CompiledScore`], or simply
//! [`sample_model`]) or closures ([`FnScore`]), so they can be tested against exact scores.

mod annealed;
mod chains;
mod field;
mod langevin;
mod mala;
mod schedule;

pub use annealed::annealed;
pub use field::{CompiledScore, FnScore, ScoreFn};
pub use langevin::langevin;
pub use mala::mala;
pub use schedule::StepSchedule;

use scorematch_graph::Element;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{ConfigError, Result};
use crate::memory;
use crate::model::Model;
use crate::objective::Objective;

crate::names::named_enum! {
    /// Which sampler.
    pub enum SamplerKind: "sampler" {
        /// Unadjusted Langevin dynamics.
        Langevin = "langevin",
        /// Metropolis-adjusted Langevin (needs an energy).
        Mala = "mala",
        /// Annealed Langevin over a σ ladder (noise-conditional score networks).
        Annealed = "annealed",
    }
}

/// The geometric noise ladder of annealed Langevin, σᵢ = σ_max·(σ_min/σ_max)^(i/(L−1)),
/// largest first — the same ladder as the `ms-dsm` objective
/// ([`Objective::sigma_ladder`]); use the values the model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ladder {
    /// Smallest σ (σ_L).
    pub sigma_min: f64,
    /// Largest σ (σ₁).
    pub sigma_max: f64,
    /// Number of levels L.
    pub levels: usize,
}

impl Default for Ladder {
    fn default() -> Self {
        Self { sigma_min: 0.01, sigma_max: 1.0, levels: 10 }
    }
}

impl Ladder {
    /// The σ values, largest first.
    pub fn sigmas(&self) -> Vec<f64> {
        Objective::sigma_ladder(self.sigma_min, self.sigma_max, self.levels)
    }
}

/// How to sample. Fields absent from serialised input take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplerConfig {
    /// Which sampler.
    pub kind: SamplerKind,
    /// Steps (per noise level for annealed Langevin).
    pub steps: usize,
    /// Step size ε (ε₀ of a geometric schedule; ε of αᵢ = ε·σᵢ²/σ_L² for annealed).
    pub step_size: f64,
    /// Final step size ε₁ of a geometric decay over the run (Langevin and MALA only).
    pub step_size_final: Option<f64>,
    /// Noise scale τ (temperature) multiplying √(2ε)ξ; 1 samples p (not for MALA).
    pub noise_scale: f64,
    /// Number of chains, advanced together as one batch.
    pub n_chains: usize,
    /// Seed of initial states and noise.
    pub seed: u64,
    /// Standard deviation of the Gaussian initial states N(0, init_std² I) (σ_max is a good
    /// choice for annealed Langevin); ignored when start points are given.
    pub init_std: f64,
    /// States kept per chain, counted back from the last.
    pub keep_last: usize,
    /// Steps between kept states.
    pub thin: usize,
    /// Number of chains (the first ones) whose trajectory is recorded.
    pub trace_chains: usize,
    /// Steps between trajectory points.
    pub trace_every: usize,
    /// Noise ladder of annealed Langevin.
    pub ladder: Ladder,
    /// Whether annealed Langevin ends with the denoising step x + σ_L² s(x, σ_L).
    pub denoise: bool,
    /// Worker threads of the compiled model.
    pub threads: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            kind: SamplerKind::Langevin,
            steps: 1000,
            step_size: 1e-2,
            step_size_final: None,
            noise_scale: 1.0,
            n_chains: 1000,
            seed: 0,
            init_std: 1.0,
            keep_last: 1,
            thin: 1,
            trace_chains: 0,
            trace_every: 1,
            ladder: Ladder::default(),
            denoise: true,
            threads: 1,
        }
    }
}

impl SamplerConfig {
    /// Total steps of the run (steps × levels for annealed Langevin).
    pub fn total_steps(&self) -> usize {
        match self.kind {
            SamplerKind::Annealed => self.steps.saturating_mul(self.ladder.levels),
            _ => self.steps,
        }
    }

    /// The step-size schedule of Langevin and MALA.
    pub fn schedule(&self) -> StepSchedule {
        match self.step_size_final {
            Some(end) => StepSchedule::geometric(self.step_size, end, self.steps),
            None => StepSchedule::constant(self.step_size),
        }
    }

    /// Checks the values on their own (not against a model). Fields are named
    /// `sampler.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("sampler.steps", self.steps)?;
        ConfigError::at_least_one("sampler.n_chains", self.n_chains)?;
        ConfigError::positive("sampler.step_size", self.step_size)?;
        if let Some(end) = self.step_size_final {
            if self.kind == SamplerKind::Annealed {
                return Err(ConfigError::new(
                    "sampler.step_size_final",
                    end,
                    "applies to langevin and mala; annealed Langevin scales its step with σ",
                ));
            }
            ConfigError::positive("sampler.step_size_final", end)?;
        }
        ConfigError::non_negative("sampler.noise_scale", self.noise_scale)?;
        if self.kind == SamplerKind::Mala && self.noise_scale != 1.0 {
            return Err(ConfigError::new(
                "sampler.noise_scale",
                self.noise_scale,
                "MALA samples the model itself, so it must be 1 (use sampler.kind langevin for \
                 a temperature)",
            ));
        }
        ConfigError::non_negative("sampler.init_std", self.init_std)?;
        ConfigError::at_least_one("sampler.keep_last", self.keep_last)?;
        ConfigError::at_least_one("sampler.thin", self.thin)?;
        ConfigError::at_least_one("sampler.trace_every", self.trace_every)?;
        let last_level = self.steps;
        if (self.keep_last - 1).saturating_mul(self.thin) >= last_level {
            return Err(ConfigError::new(
                "sampler.keep_last",
                self.keep_last,
                format!(
                    "keeping that many states {} steps apart needs more than {last_level} \
                     steps{}",
                    self.thin,
                    if self.kind == SamplerKind::Annealed { " per level" } else { "" }
                ),
            ));
        }
        if self.kind == SamplerKind::Annealed {
            let l = &self.ladder;
            ConfigError::positive("sampler.sigma_min", l.sigma_min)?;
            ConfigError::positive("sampler.sigma_max", l.sigma_max)?;
            if l.sigma_max < l.sigma_min {
                return Err(ConfigError::new(
                    "sampler.sigma_max",
                    l.sigma_max,
                    format!("must be at least sampler.sigma_min ({})", l.sigma_min),
                ));
            }
            ConfigError::at_least_one("sampler.levels", l.levels)?;
        }
        Ok(())
    }

    /// Checks that the sampler suits a field with these capabilities.
    pub fn check_field(&self, field: &dyn ScoreFn) -> Result<(), ConfigError> {
        let refuse = |why: &str| Err(ConfigError::new("sampler.kind", self.kind, why));
        match self.kind {
            SamplerKind::Mala if !field.has_energy() => {
                refuse("MALA needs an energy; use sampler.kind langevin")
            }
            SamplerKind::Annealed if !field.is_noise_conditional() => refuse(
                "annealed Langevin needs a noise-conditional score network (model.kind \
                 ncsn-score); use sampler.kind langevin or mala",
            ),
            SamplerKind::Langevin | SamplerKind::Mala if field.is_noise_conditional() => {
                refuse("a noise-conditional score network is sampled with sampler.kind annealed")
            }
            _ => Ok(()),
        }
    }
}

/// The outcome of a sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// Dimension D.
    pub dim: usize,
    /// Number of chains.
    pub n_chains: usize,
    /// Kept states per chain.
    pub n_kept: usize,
    /// Kept states, (n_kept·n_chains × D) row-major, oldest snapshot first: chain c's k-th
    /// kept state is row k·n_chains + c. With `keep_last = 1`, the final states.
    pub samples: Vec<f64>,
    /// Trajectories of the traced chains, each (points × D) row-major: the initial state,
    /// then every `trace_every` steps.
    pub trajectories: Vec<Vec<f64>>,
    /// Steps between trajectory points.
    pub trace_every: usize,
    /// Steps run in total.
    pub steps: usize,
    /// MALA's overall acceptance rate (accepted proposals / (chains × steps)).
    pub acceptance_rate: Option<f64>,
}

impl Samples {
    /// The final states, (n_chains × D) row-major.
    pub fn final_states(&self) -> &[f64] {
        let len = self.n_chains * self.dim;
        &self.samples[self.samples.len().saturating_sub(len)..]
    }

    /// The kept states as a dataset (default column names).
    pub fn to_dataset(&self) -> Result<Dataset> {
        Dataset::from_flat(self.samples.len() / self.dim.max(1), self.dim, self.samples.clone())
    }
}

/// Runs the configured sampler on `field`. `start`: initial states, R rows of D values
/// (chain c starts at row c mod R); `None` draws N(0, init_std² I).
pub fn sample(
    field: &mut dyn ScoreFn,
    config: &SamplerConfig,
    start: Option<&[f64]>,
) -> Result<Samples> {
    match config.kind {
        SamplerKind::Langevin => langevin(field, config, start),
        SamplerKind::Mala => mala(field, config, start),
        SamplerKind::Annealed => annealed(field, config, start),
    }
}

/// Samples `model` with parameters `params`, compiled once for a batch of all chains.
/// Chains that do not fit in this machine's memory ([`memory::sampling_need`]) are
/// refused first, naming `sampler.n_chains`.
pub fn sample_model<T: Element>(
    model: &dyn Model,
    params: &[Vec<T>],
    config: &SamplerConfig,
    start: Option<&[f64]>,
) -> Result<Samples> {
    config.validate()?;
    memory::sampling_need::<T>(model, config)?.check(
        "sampling",
        "sampler.n_chains",
        config.n_chains,
        "lower sampler.n_chains",
    )?;
    let mut field = CompiledScore::new(model, params, config.n_chains, config.threads)?;
    config.check_field(&field)?;
    sample(&mut field, config, start)
}
