//! What a checkpoint records of the training that produced it.

use serde::{Deserialize, Serialize};

use super::{StopReason, TrainReport};
use crate::config::RunConfig;
use crate::objective::Objective;
use crate::sample::Ladder;

/// The training record stored in a checkpoint's metadata: the run's resolved
/// configuration, the objective it built, and the outcome. It holds no wall-clock value, so
/// equal runs write equal checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The run's configuration, resolved (training on it again repeats the run).
    pub config: RunConfig,
    /// The objective trained (for noise-conditional models, its σ ladder is where the score
    /// was fitted).
    pub objective: Objective,
    /// Training rows.
    pub n_train: usize,
    /// Validation rows.
    pub n_validation: usize,
    /// Why training ended.
    pub stop: StopReason,
    /// Steps completed.
    pub steps_done: usize,
    /// The best validation loss and its step, when there was a validation set.
    pub best_validation: Option<BestValidation>,
    /// The last step's training loss.
    pub final_loss: Option<f64>,
    /// Which step's parameters the checkpoint holds (absent in checkpoints written before
    /// this was recorded).
    #[serde(default)]
    pub held: Option<HeldStep>,
}

/// Which parameters a checkpoint holds: a step, and whether it is the run's best validation
/// step or its last completed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldStep {
    /// 1-based step (0: the initial parameters).
    pub step: usize,
    /// Best-validation or last.
    pub kind: HeldKind,
}

/// Whether held parameters are a run's best validation step or its last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeldKind {
    /// The step with the lowest validation loss.
    Best,
    /// The last completed step.
    Last,
}

impl HeldStep {
    /// The best validation step `step`.
    pub fn best(step: usize) -> Self {
        Self { step, kind: HeldKind::Best }
    }

    /// The last completed step, `step`.
    pub fn last(step: usize) -> Self {
        Self { step, kind: HeldKind::Last }
    }
}

impl std::fmt::Display for HeldStep {
    /// "step 800 (best validation)" or "step 3000 (last)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            HeldKind::Best => "best validation",
            HeldKind::Last => "last",
        };
        write!(f, "step {} ({kind})", self.step)
    }
}

/// A validation loss and the step it was measured after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestValidation {
    /// 1-based step.
    pub step: usize,
    /// Mean validation objective.
    pub loss: f64,
}

impl TrainingRecord {
    /// The record of a run of `config` that trained `objective` on `n_train` rows (and
    /// validated on `n_validation`) with outcome `report`.
    pub fn new(
        config: RunConfig,
        objective: Objective,
        n_train: usize,
        n_validation: usize,
        report: &TrainReport,
    ) -> Self {
        Self {
            config,
            objective,
            n_train,
            n_validation,
            stop: report.stop.clone(),
            steps_done: report.steps_done,
            best_validation: report.best.map(|(step, loss)| BestValidation { step, loss }),
            final_loss: report.final_loss,
            held: Some(report.held),
        }
    }

    /// The σ ladder of a model trained by multi-scale DSM.
    pub fn ladder(&self) -> Option<Ladder> {
        match self.objective {
            Objective::MsDsm { sigma_min, sigma_max, levels } => {
                Some(Ladder { sigma_min, sigma_max, levels })
            }
            _ => None,
        }
    }

    /// Reads a record written by format version 1, where it was free-form JSON: the same
    /// keys, but unset settings were written as `null` (and an infinite base scale as
    /// `null` too). Nulls are dropped so that those settings take their defaults.
    pub fn from_version_1(mut value: serde_json::Value) -> serde_json::Result<Self> {
        drop_nulls(&mut value);
        serde_json::from_value(value)
    }
}

/// Removes every `null` member of every object in `value`.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
