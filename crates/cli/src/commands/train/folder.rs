//! A training run's folder while the run goes on: what is written when, so that a run
//! stopped in any way loses at most the steps since its last save.
//!
//! - `config.toml` is written when the run starts (and again when it is resumed, with the
//!   new step count).
//! - `metrics.csv` grows by one line per step; a save flushes it to disk. A line cut short
//!   by a kill is dropped when the run is resumed.
//! - A save writes `last.safetensors` (the last completed step's parameters and everything
//!   a resumed run needs: optimiser moments, early-stopping state, best parameters) and
//!   `checkpoint.safetensors` (the parameters the run keeps: the best validation step's, or
//!   the last). Each file's training record says which step it holds and which kind.
//!
//! Every whole-file write is atomic (a complete temporary file renamed over the old one),
//! so a kill at any moment leaves each file either as it was or as it is meant to be.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scorematch::handle::ModelHandle;
use scorematch::saved::SavedModel;
use scorematch::train::{AnyTrainer, HeldStep, StepMetrics, TrainingRecord};

use crate::config::{self, RunConfig};
use crate::files::save_text;

/// The parameters a run keeps.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The last step's state, to resume from.
pub const LAST: &str = "last.safetensors";
/// The resolved configuration.
pub const CONFIG: &str = "config.toml";
/// One line per step.
pub const METRICS: &str = "metrics.csv";
/// The header of `metrics.csv`.
const METRICS_HEADER: &str = "step,epoch,loss,val_loss,grad_norm,lr";

/// What every save records beside the parameters: the run's configuration and data sizes.
pub struct RecordBase {
    /// The resolved configuration.
    pub config: RunConfig,
    /// The objective trained.
    pub objective: scorematch::objective::Objective,
    /// Training rows.
    pub n_train: usize,
    /// Validation rows.
    pub n_validation: usize,
}

/// An open run folder.
pub struct RunFolder {
    dir: PathBuf,
    metrics: BufWriter<File>,
}

impl RunFolder {
    /// Starts a run in `dir`: writes `config.toml` and a fresh `metrics.csv` (replacing
    /// those of a run this one overwrites).
    pub fn start(dir: &Path, config: &RunConfig) -> Result<Self> {
        save_text(&dir.join(CONFIG), &config_toml(config)?)?;
        save_text(&dir.join(METRICS), &format!("{METRICS_HEADER}\n"))?;
        Self::open(dir)
    }

    /// Reopens the run in `dir` at `step`: rewrites `config.toml` for `config` and cuts
    /// `metrics.csv` to the steps up to `step` (a line cut short by a kill goes too),
    /// which are returned.
    pub fn resume(dir: &Path, config: &RunConfig, step: usize) -> Result<(Self, Vec<StepMetrics>)> {
        let path = dir.join(METRICS);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {} to resume the run", path.display()))?;
        let mut kept = format!("{METRICS_HEADER}\n");
        let mut history = Vec::with_capacity(step);
        // Only whole lines count: a kill can cut the last one short, and a number cut short
        // may still read as a (different) number.
        for line in text.split_inclusive('\n').skip(1) {
            let Some(line) = line.strip_suffix('\n') else { break };
            match parse_metrics_line(line) {
                Some(m) if m.step <= step => {
                    kept.push_str(line);
                    kept.push('\n');
                    history.push(m);
                }
                _ => break,
            }
        }
        if history.len() != step || history.iter().enumerate().any(|(i, m)| m.step != i + 1) {
            anyhow::bail!(
                "{} holds {} whole lines for the {step} steps of the saved state: the run folder \
                 was changed by hand; start a new run",
                path.display(),
                history.len()
            );
        }
        save_text(&path, &kept)?;
        save_text(&dir.join(CONFIG), &config_toml(config)?)?;
        Ok((Self::open(dir)?, history))
    }

    fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(METRICS);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self { dir: dir.to_path_buf(), metrics: BufWriter::new(file) })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `file` in the folder.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Appends a step's line to `metrics.csv` (buffered; [`RunFolder::save`] flushes).
    pub fn record(&mut self, m: &StepMetrics) -> Result<()> {
        let val = m.val_loss.map(|v| v.to_string()).unwrap_or_default();
        writeln!(self.metrics, "{},{},{},{val},{},{}", m.step, m.epoch, m.loss, m.grad_norm, m.lr)
            .with_context(|| format!("cannot write {}", self.path(METRICS).display()))
    }

    /// Saves the run as it stands: `metrics.csv` flushed to disk, then `last.safetensors`
    /// (when `resumable`: a run that diverged keeps its previous one) and
    /// `checkpoint.safetensors`. `model` supplies the configuration, precision and
    /// standardisation. Returns the step `checkpoint.safetensors` holds.
    pub fn save(
        &mut self,
        model: &ModelHandle,
        trainer: &dyn AnyTrainer,
        base: &RecordBase,
        resumable: bool,
    ) -> Result<HeldStep> {
        let metrics = self.path(METRICS);
        self.metrics
            .flush()
            .and_then(|()| self.metrics.get_ref().sync_data())
            .with_context(|| format!("cannot write {}", metrics.display()))?;
        let report = trainer.report(Vec::new());
        let record = |held: HeldStep| {
            let mut r = TrainingRecord::new(
                base.config.clone(),
                base.objective.clone(),
                base.n_train,
                base.n_validation,
                &report,
            );
            r.held = Some(held);
            Some(r)
        };
        let template = model.to_saved();
        if resumable {
            let last = SavedModel {
                params: trainer.params_f64(),
                training: record(HeldStep::last(trainer.steps_done())),
                resume: Some(trainer.state()),
                ..template.clone()
            };
            write(&last, &self.path(LAST))?;
        }
        let (held, params) = trainer.kept_f64();
        let kept = SavedModel { params, training: record(held), resume: None, ..template };
        write(&kept, &self.path(CHECKPOINT))?;
        Ok(held)
    }
}

/// Writes a checkpoint atomically.
fn write(saved: &SavedModel, path: &Path) -> Result<()> {
    saved.save(path).with_context(|| format!("cannot write {}", path.display()))
}

/// A line of `metrics.csv` (see [`RunFolder::record`]); `None` unless whole and well formed.
fn parse_metrics_line(line: &str) -> Option<StepMetrics> {
    let fields: Vec<&str> = line.split(',').collect();
    let [step, epoch, loss, val, grad_norm, lr] = fields.as_slice() else { return None };
    Some(StepMetrics {
        step: step.parse().ok()?,
        total_steps: 0,
        epoch: epoch.parse().ok()?,
        loss: loss.parse().ok()?,
        val_loss: if val.is_empty() { None } else { Some(val.parse().ok()?) },
        grad_norm: grad_norm.parse().ok()?,
        lr: lr.parse().ok()?,
        steps_per_sec: 0.0,
    })
}

/// `config.toml`: a comment saying how to reuse it, then the resolved configuration.
fn config_toml(config: &RunConfig) -> Result<String> {
    Ok(format!(
        "# scorematch train configuration, fully resolved.\n\
         # Repeat this run with: scorematch train --config config.toml --out <new folder>\n\n{}",
        config::to_toml(config)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_lines_round_trip_and_cut_lines_are_refused() {
        let m = StepMetrics {
            step: 3,
            total_steps: 0,
            epoch: 1,
            loss: -0.1 / 3.0,
            grad_norm: 2.5e-7,
            lr: 3e-3,
            steps_per_sec: 0.0,
            val_loss: Some(1.0 / 7.0),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut folder = RunFolder::start(dir.path(), &RunConfig::default()).expect("start");
        folder.record(&m).expect("record");
        folder.metrics.flush().expect("flush");
        let text = std::fs::read_to_string(dir.path().join(METRICS)).expect("read");
        let line = text.lines().nth(1).expect("a line");
        assert_eq!(parse_metrics_line(line), Some(m));
        assert_eq!(parse_metrics_line("3,1,0.5,"), None);
        assert_eq!(parse_metrics_line("3,1,0.5,,0."), None);
    }
}
