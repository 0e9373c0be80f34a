//! `scorematch train`: fit a model and write a run folder.
//!
//! The folder holds `checkpoint.safetensors` (parameters, model, standardisation and the
//! training record), `config.toml` (the resolved configuration: `--config` it to repeat
//! the run), `metrics.csv` (one row per step; no wall-clock columns, so equal runs give
//! equal files) and, for 2-D data, `density.png`, `score.png`, `samples.png`, plus
//! `loss.png`.
//!
//! Ctrl-C stops after the current step and saves the last completed step's parameters
//! (exit status 130); a second Ctrl-C quits at once. A non-finite loss saves the last good
//! parameters and exits with status 1 and advice.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::Args;

use scorematch::config::RunRows;
use scorematch::data::{Dataset, Standardizer};
use scorematch::handle::ModelHandle;
use scorematch::model::ModelConfig;
use scorematch::objective::Objective;
use scorematch::rng::Stream;
use scorematch::train::{
    Control, StepMetrics, StopReason, TrainConfig, TrainReport, TrainingRecord,
};

use super::common;
use crate::config::{self, RunConfig, RunFlags};
use crate::error::{self, Exit};
use crate::figures::{FIGURE_FILES, ModelView, training_figures};
use crate::files::{load_data, run_dir, save_text};
use crate::progress::{Progress, Verbosity};

/// Set by the Ctrl-C handler; the training hook then stops after the current step.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Whether the optimisation loop is running (Ctrl-C at any other time quits at once).
static IN_TRAINING: AtomicBool = AtomicBool::new(false);

const EXAMPLES: &str = "\
Examples:
  scorematch train                                   # MLP energy, ssm-vr, eight Gaussians
  scorematch train --data two-moons --steps 5000 --name moons
  scorematch train --data wine.csv --hidden 128,128 --val-fraction 0.2 --patience 5
  scorematch train --model nice --objective mle --data rings
  scorematch train --model ncsn-score --objective ms-dsm --sigma-max 2 --levels 10
  scorematch train --objective dsm --sigma 0.05 --optimizer sgd --momentum 0.9 --lr 0.01
  scorematch train --config runs/moons/config.toml --out runs/moons-again   # repeat a run

Each flag's default is shown beside it. Settings come from --config FILE (TOML, the format
of a run's config.toml, whose keys are the flags' names in sections [data], [model],
[objective], [train], [sample]), then the flags typed here override them.";

/// Flags of `scorematch train`: the run configuration's (declared by the library, see
/// [`crate::config`]) and where the run goes.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct TrainArgs {
    /// Read settings from a TOML file (a run's config.toml repeats that run); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The run configuration's flags.
    #[command(flatten)]
    pub settings: RunFlags,

    /// Run folder [default: runs/NAME with --name, else runs/TIMESTAMP (UTC)].
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Name of the run folder under runs/.
    #[arg(long, value_name = "NAME", conflicts_with = "out", help_heading = "Output")]
    pub name: Option<String>,
    /// Overwrite a run folder that already holds a run.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// When stderr is not a terminal, print a progress line every N steps.
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Output")]
    pub log_every: usize,
}

impl TrainArgs {
    /// The configuration: the file's (or the defaults), the typed flags over it, the usual
    /// values of unset choices written in, validated; and notes on typed flags it does not
    /// use.
    pub fn configuration(&self) -> Result<(RunConfig, Vec<String>)> {
        let mut config = match &self.config {
            Some(path) => config::from_file(path)?,
            None => RunConfig::default(),
        };
        self.settings.apply(&mut config)?;
        let config = config.resolved();
        config.validate()?;
        let notes = self.settings.unused(&config);
        Ok((config, notes))
    }
}

/// Everything a run needs, validated, before training starts.
struct Plan {
    config: RunConfig,
    model: ModelConfig,
    objective: Objective,
    train: TrainConfig,
    /// Training rows in raw coordinates (for the plots).
    train_raw: Dataset,
    /// Training and validation rows in model coordinates.
    train_data: Dataset,
    validation: Option<Dataset>,
    standardizer: Option<Standardizer>,
    dir: PathBuf,
    /// Columns of the data that look discrete, with their distinct counts.
    raw_columns_discrete: Vec<(String, usize)>,
}

/// A column with at most this many distinct values is flagged as discrete.
const DISCRETE_MAX_DISTINCT: usize = 20;

/// Runs `scorematch train`.
pub fn run(args: &TrainArgs, verbosity: Verbosity) -> Result<()> {
    let (config, notes) = args.configuration()?;
    common::notes(verbosity, &notes);
    let plan = prepare(config, args)?;
    let discrete = plan.raw_columns_discrete.iter().map(|(name, k)| {
        format!(
            "column '{name}' takes only {k} distinct values; score matching assumes continuous \
             data and its loss can fall without bound on such a column: drop it \
             (--drop-columns {name}), or add dequantisation noise"
        )
    });
    common::notes(verbosity, &discrete.collect::<Vec<_>>());
    train_model(&plan, args, verbosity)
}

/// Loads and splits the data, builds the model, objective and optimisation settings, and
/// creates the run folder.
fn prepare(config: RunConfig, args: &TrainArgs) -> Result<Plan> {
    let (seed, d) = (config.seed, &config.data);
    let data = d.select_columns(&load_data(&d.source, d.n_samples, Stream::Data.seed(seed))?)?;
    let raw_columns_discrete = data.discrete_columns(DISCRETE_MAX_DISTINCT);
    let RunRows { train_raw, train: train_data, validation, standardizer } =
        config.prepare_rows(&data).context("cannot split and standardise the training data")?;
    let model = config.model_config(data.d())?;
    let objective = config.objective();
    let train = config.train_config(train_data.n())?;
    let dir = run_dir(args.out.as_deref(), args.name.as_deref(), args.force)?;
    Ok(Plan {
        config,
        model,
        objective,
        train,
        train_raw,
        train_data,
        validation,
        standardizer,
        dir,
        raw_columns_discrete,
    })
}

/// Trains at the configured precision, then writes the run folder.
fn train_model(plan: &Plan, args: &TrainArgs, verbosity: Verbosity) -> Result<()> {
    let mut rng = Stream::Init.rng(plan.config.seed);
    let mut model = ModelHandle::init(plan.model.clone(), plan.config.dtype, &mut rng)
        .with_standardizer(plan.standardizer.clone())
        .with_columns(plan.train_raw.column_names().map(<[String]>::to_vec));
    let total = plan.train.total_steps(plan.train_data.n())?;
    let n_params = model.n_params();
    let source = &plan.config.data.source;
    let mut progress = Progress::new(total, verbosity, args.log_every);
    progress.message(&format!(
        "training {} ({n_params} parameters, {}) on {source} ({} rows, {} validation) by {} for {total} steps -> {}",
        plan.model.kind_name(),
        model.dtype(),
        plan.train_data.n(),
        plan.validation.as_ref().map_or(0, Dataset::n),
        plan.objective.name(),
        plan.dir.display()
    ));
    progress.verbose(&format!("model: {:?}", plan.model));
    progress.verbose(&format!("objective: {:?}", plan.objective));
    progress.verbose(&format!("optimisation: {:?}", plan.train));
    install_ctrlc_handler();
    let mut last_val = None;
    let mut hook = |m: &StepMetrics| {
        last_val = m.val_loss.or(last_val);
        progress.update(m.step, m.loss, last_val, m.steps_per_sec);
        if INTERRUPTED.load(Ordering::SeqCst) { Control::Stop } else { Control::Continue }
    };
    IN_TRAINING.store(true, Ordering::SeqCst);
    let report = model.fit(
        &plan.objective,
        &plan.train_data,
        plan.validation.as_ref(),
        &plan.train,
        &mut hook,
    );
    IN_TRAINING.store(false, Ordering::SeqCst);
    let report = report?;

    let checkpoint = plan.dir.join("checkpoint.safetensors");
    let mut saved = model.to_saved();
    saved.training = Some(TrainingRecord::new(
        plan.config.clone(),
        plan.objective.clone(),
        plan.train_data.n(),
        plan.validation.as_ref().map_or(0, Dataset::n),
        &report,
    ));
    saved.save(&checkpoint).with_context(|| format!("cannot write {}", checkpoint.display()))?;
    save_text(&plan.dir.join("metrics.csv"), &metrics_csv(&report.history))?;
    save_text(&plan.dir.join("config.toml"), &config_toml(&plan.config)?)?;

    let summary = summary(&report);
    match report.stop {
        StopReason::Interrupted => {
            progress.finish("");
            return Err(Exit {
                code: error::INTERRUPTED,
                message: format!(
                    "interrupted after step {} of {total}: the checkpoint of the last completed step is {} \
                     (metrics.csv and config.toml beside it; no plots were drawn)",
                    report.steps_done,
                    checkpoint.display()
                ),
            }
            .into());
        }
        StopReason::NonFinite { step } => {
            progress.finish("");
            return Err(Exit {
                code: error::FAILURE,
                message: format!(
                    "error: the loss or its gradient became non-finite at step {step}; the last parameters \
                     with a finite loss (step {}) are saved in {}.\nTry a lower --lr (now {}), \
                     --clip-grad-norm 1, a smaller --base-sigma, or --dtype f64.",
                    step.saturating_sub(1),
                    checkpoint.display(),
                    plan.train.lr
                ),
            }
            .into());
        }
        StopReason::Completed | StopReason::EarlyStopped => {}
    }
    let mut written = vec![checkpoint, plan.dir.join("config.toml"), plan.dir.join("metrics.csv")];
    if plan.config.plots {
        progress.finish("");
        common::detail(verbosity, "drawing the figures");
        let view = ModelView {
            model: &model,
            sigma: match plan.objective {
                Objective::MsDsm { sigma_min, .. } => Some(sigma_min),
                _ => None,
            },
            threads: plan.config.threads,
        };
        let figures = training_figures(
            &plan.dir,
            &view,
            &plan.train_raw,
            &plan.config.sampler_config(),
            &report.history,
            plan.objective.name(),
        )
        .with_context(|| {
            format!("the run is saved in {}, but drawing its figures failed", plan.dir.display())
        })?;
        common::notes(verbosity, &figures.notes);
        written.extend(figures.written);
    } else {
        progress.finish("");
    }
    common::say(verbosity, &summary);
    // A forced rerun into an old run folder: figures this run did not draw (skipped, or
    // --no-plots) would otherwise sit beside the new checkpoint as if they belonged to it.
    for stale in FIGURE_FILES.iter().map(|f| plan.dir.join(f)) {
        if !written.contains(&stale) && stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("cannot remove the old {}", stale.display()))?;
        }
    }
    common::say(verbosity, &format!("wrote {}", list_files(&plan.dir, &written)));
    Ok(())
}

/// Installs the Ctrl-C handler (once per process): during optimisation the first Ctrl-C
/// asks training to stop after the current step; a second one, or one at any other time
/// (loading, drawing the figures), exits at once.
fn install_ctrlc_handler() {
    // An error means a handler is already installed (a second run in-process): keep it.
    let _ = ctrlc::set_handler(|| {
        if !IN_TRAINING.load(Ordering::SeqCst) || INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted");
            std::process::exit(i32::from(error::INTERRUPTED));
        }
        eprintln!("\nstopping after this step (Ctrl-C again to quit at once)");
    });
}

/// `metrics.csv`: step, epoch, loss, val_loss (empty where not evaluated), grad_norm, lr.
fn metrics_csv(history: &[StepMetrics]) -> String {
    let mut s = String::from("step,epoch,loss,val_loss,grad_norm,lr\n");
    for m in history {
        let val = m.val_loss.map(|v| v.to_string()).unwrap_or_default();
        s.push_str(&format!("{},{},{},{val},{},{}\n", m.step, m.epoch, m.loss, m.grad_norm, m.lr));
    }
    s
}

/// `config.toml`: a comment saying how to reuse it, then the resolved configuration.
fn config_toml(config: &RunConfig) -> Result<String> {
    Ok(format!(
        "# scorematch train configuration, fully resolved.\n\
         # Repeat this run with: scorematch train --config config.toml --out <new folder>\n\n{}",
        config::to_toml(config)?
    ))
}

/// One line on how training went.
fn summary(report: &TrainReport) -> String {
    let rate = report.steps_done as f64 / report.seconds.max(1e-9);
    let mut s = format!(
        "trained {} steps in {:.1} s ({rate:.0} steps/s)",
        report.steps_done, report.seconds
    );
    if let Some(m) = report.history.last() {
        s.push_str(&format!(", final loss {:.4}", m.loss));
    }
    if let Some((step, v)) = report.best {
        s.push_str(&format!(", best validation loss {v:.4} at step {step}"));
    }
    if report.stop == StopReason::EarlyStopped {
        s.push_str(" (stopped early: validation loss stopped improving)");
    }
    s
}

/// `dir/{a, b, …}`.
fn list_files(dir: &Path, files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    format!("{}/{{{}}}", dir.display(), names.join(", "))
}
