//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

crate::names::named_enum! {
    /// A schedule family (the `kind` of a [`Schedule`]).
    pub enum ScheduleName: "schedule" {
        /// The same rate throughout.
        Constant = "constant",
        /// Linear warmup, then cosine decay to the final rate.
        Cosine = "cosine",
        /// Multiply by gamma every step_size steps.
        Step = "step",
    }
}

/// A learning-rate schedule: the rate for step `t` (0-based: the update about to be taken)
/// given the base rate `η`. Serialisable for run configurations
/// (`{"kind": "cosine", "total_steps": 10000, "warmup_steps": 500, "min_lr": 0.0}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    /// `η` at every step.
    #[default]
    Constant,
    /// Linear warmup then cosine decay to `min_lr` (PyTorch's `CosineAnnealingLR` after
    /// warmup):
    ///
    /// ```text
    /// t < W:       η · (t + 1) / W
    /// W ≤ t < T:   min_lr + (η − min_lr) · ½ (1 + cos(π (t − W) / (T − W)))
    /// t ≥ T:       min_lr
    /// ```
    ///
    /// Warmup starts at `η/W` rather than 0 so that no step is wasted.
    Cosine {
        /// `T`: the step at which the rate reaches `min_lr` (usually the run's length).
        total_steps: u64,
        /// `W`: warmup steps (0 for none); `W ≤ T`.
        #[serde(default)]
        warmup_steps: u64,
        /// Final rate.
        #[serde(default)]
        min_lr: f64,
    },
    /// `η · γ^⌊t / k⌋`: multiply by `gamma` every `step_size` steps (PyTorch's `StepLR`).
    Step {
        /// `k ≥ 1`.
        step_size: u64,
        /// `γ > 0`.
        gamma: f64,
    },
}

impl Schedule {
    /// Checks the parameters (see each variant).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine { total_steps, warmup_steps, min_lr } => {
                ConfigError::at_least_one("train.total_steps", total_steps as usize)?;
                if warmup_steps > total_steps {
                    return Err(ConfigError::new(
                        "train.warmup_steps",
                        warmup_steps,
                        format!("exceeds the {total_steps} training steps"),
                    ));
                }
                ConfigError::non_negative("train.min_lr", min_lr)
            }
            Schedule::Step { step_size, gamma } => {
                ConfigError::at_least_one("train.lr_step_size", step_size as usize)?;
                ConfigError::positive("train.lr_gamma", gamma)
            }
        }
    }

    /// The learning rate for step `step` (0-based) with base rate `base_lr`. Total for any
    /// input (an invalid schedule degrades gracefully: `step_size = 0` never decays); call
    /// [`Schedule::validate`] to reject bad parameters up front.
    pub fn lr_at(&self, step: u64, base_lr: f64) -> f64 {
        match *self {
            Schedule::Constant => base_lr,
            Schedule::Cosine { total_steps, warmup_steps, min_lr } => {
                if step < warmup_steps {
                    return base_lr * (step + 1) as f64 / warmup_steps as f64;
                }
                if step >= total_steps {
                    return min_lr;
                }
                let span = (total_steps - warmup_steps).max(1) as f64;
                let progress = ((step - warmup_steps) as f64 / span).min(1.0);
                min_lr + (base_lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            Schedule::Step { step_size, gamma } => match step.checked_div(step_size) {
                Some(k) => base_lr * gamma.powf(k as f64),
                None => base_lr,
            },
        }
    }
}
