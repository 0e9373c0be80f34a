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
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use scorematch::data::{Dataset, Standardizer};
use scorematch::handle::ModelHandle;
use scorematch::model::ModelConfig;
use scorematch::objective::Objective;
use scorematch::train::{Control, StepMetrics, StopReason, TrainConfig, TrainReport};

use super::common::{self, Widths, parse_base_sigma, parse_widths};
use crate::config::{
    ActivationName, DTypeName, ModelKind, ObjectiveKind, OptimizerName, ProjectionName, RunConfig,
    ScheduleName,
};
use crate::error::{self, Exit, usage};
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

Defaults (`scorematch train` with no flags): 10000 samples of eight-gaussians, standardised,
10% held out; MLP energy 2-64-64-1, softplus, base sigma 3; ssm-vr with one Rademacher
projection; Adam, lr 3e-3, 2000 steps of 256; f32; seed 0. Settings come from --config FILE
(TOML, the format of a run's config.toml), then flags override them.";

/// Flags of `scorematch train`. Every value is optional: unset values come from `--config`
/// or the defaults (see `config.rs`).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct TrainArgs {
    /// Read settings from a TOML file (a run's config.toml repeats that run); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Built-in dataset name (see `scorematch datasets`), a .csv file with a header row, or a .npy file.
    #[arg(long, value_name = "NAME|FILE", help_heading = "Data")]
    pub data: Option<String>,
    /// Samples to draw from a built-in dataset [default: 10000].
    #[arg(long, value_name = "N", help_heading = "Data")]
    pub n_samples: Option<usize>,
    /// Train on the data as given (no per-column standardisation).
    #[arg(long, help_heading = "Data")]
    pub no_standardize: bool,
    /// Fraction of rows held out for validation, 0 for none [default: 0.1].
    #[arg(long, value_name = "F", help_heading = "Data")]
    pub val_fraction: Option<f64>,

    /// Model family [default: mlp-energy].
    #[arg(long, value_enum, help_heading = "Model")]
    pub model: Option<ModelKind>,
    /// Hidden widths, comma-separated [default: 64,64].
    #[arg(long, value_name = "H1,H2,…", value_parser = parse_widths, help_heading = "Model")]
    pub hidden: Option<Widths>,
    /// Hidden activation [default: softplus].
    #[arg(long, value_enum, help_heading = "Model")]
    pub activation: Option<ActivationName>,
    /// mlp-energy's Gaussian base term scale σ₀ in ‖x‖²/(2σ₀²), or `none` [default: 3].
    #[arg(long, value_name = "S|none", value_parser = parse_base_sigma, help_heading = "Model")]
    pub base_sigma: Option<f64>,
    /// Coupling layers of a nice flow [default: 4].
    #[arg(long, value_name = "K", help_heading = "Model")]
    pub couplings: Option<usize>,

    /// Objective [default: ssm-vr; ms-dsm for ncsn-score].
    #[arg(long, value_enum, help_heading = "Objective")]
    pub objective: Option<ObjectiveKind>,
    /// Projection distribution of ssm / ssm-vr [default: rademacher].
    #[arg(long, value_enum, help_heading = "Objective")]
    pub projection: Option<ProjectionName>,
    /// Projections per sample of ssm / ssm-vr [default: 1].
    #[arg(long, value_name = "M", help_heading = "Objective")]
    pub n_projections: Option<usize>,
    /// Noise level of dsm (standardised units) [default: 0.1].
    #[arg(long, value_name = "S", help_heading = "Objective")]
    pub sigma: Option<f64>,
    /// Smallest noise level of ms-dsm [default: 0.01].
    #[arg(long, value_name = "S", help_heading = "Objective")]
    pub sigma_min: Option<f64>,
    /// Largest noise level of ms-dsm [default: 1].
    #[arg(long, value_name = "S", help_heading = "Objective")]
    pub sigma_max: Option<f64>,
    /// Noise levels of ms-dsm (geometric ladder) [default: 10].
    #[arg(long, value_name = "L", help_heading = "Objective")]
    pub levels: Option<usize>,

    /// Optimisation steps [default: 2000].
    #[arg(long, value_name = "N", conflicts_with = "epochs", help_heading = "Optimisation")]
    pub steps: Option<usize>,
    /// Passes over the training set (instead of --steps).
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub epochs: Option<usize>,
    /// Rows per batch [default: 256].
    #[arg(long, value_name = "B", help_heading = "Optimisation")]
    pub batch_size: Option<usize>,
    /// Learning rate [default: 0.003].
    #[arg(long, value_name = "LR", help_heading = "Optimisation")]
    pub lr: Option<f64>,
    /// Optimiser [default: adam].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub optimizer: Option<OptimizerName>,
    /// SGD momentum [default: 0].
    #[arg(long, value_name = "M", help_heading = "Optimisation")]
    pub momentum: Option<f64>,
    /// Weight decay: L2 for sgd/adam, decoupled for adamw [default: 0; adamw 0.01].
    #[arg(long, value_name = "L", help_heading = "Optimisation")]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule [default: constant].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub schedule: Option<ScheduleName>,
    /// Linear warmup steps of the cosine schedule [default: 0].
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub warmup_steps: Option<u64>,
    /// Final learning rate of the cosine schedule [default: 0].
    #[arg(long, value_name = "LR", help_heading = "Optimisation")]
    pub min_lr: Option<f64>,
    /// Steps between decays of the step schedule [default: 1000].
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub lr_step_size: Option<u64>,
    /// Decay factor of the step schedule [default: 0.5].
    #[arg(long, value_name = "G", help_heading = "Optimisation")]
    pub lr_gamma: Option<f64>,
    /// Clip the global gradient norm to this value.
    #[arg(long, value_name = "MAX", help_heading = "Optimisation")]
    pub clip_grad_norm: Option<f64>,
    /// Stop after this many validations without improvement.
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub patience: Option<usize>,
    /// Steps between validations [default: 100].
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub eval_every: Option<usize>,

    /// Seed of data, split, initialisation, batches and noise [default: 0].
    #[arg(long, value_name = "S", help_heading = "Run")]
    pub seed: Option<u64>,
    /// Worker threads [default: 1].
    #[arg(long, value_name = "N", help_heading = "Run", value_parser = common::parse_threads)]
    pub threads: Option<usize>,
    /// Precision of training and of the checkpoint [default: f32].
    #[arg(long, value_enum, help_heading = "Run")]
    pub dtype: Option<DTypeName>,

    /// Run folder [default: runs/NAME with --name, else runs/TIMESTAMP (UTC)].
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Name of the run folder under runs/.
    #[arg(long, value_name = "NAME", conflicts_with = "out", help_heading = "Output")]
    pub name: Option<String>,
    /// Overwrite a run folder that already holds a run.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Skip the PNG figures.
    #[arg(long, help_heading = "Output")]
    pub no_plots: bool,
    /// When stderr is not a terminal, print a progress line every N steps.
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Output")]
    pub log_every: usize,
}

impl TrainArgs {
    /// The settings the flags make, as the top layer of the configuration.
    pub fn overrides(&self) -> RunConfig {
        let mut c = RunConfig {
            seed: self.seed,
            threads: self.threads,
            dtype: self.dtype,
            ..RunConfig::default()
        };
        c.plots = self.no_plots.then_some(false);
        c.data.source = self.data.clone();
        c.data.n_samples = self.n_samples;
        c.data.standardize = self.no_standardize.then_some(false);
        c.data.val_fraction = self.val_fraction;
        c.model.kind = self.model;
        c.model.hidden = self.hidden.as_ref().map(|w| w.0.clone());
        c.model.activation = self.activation;
        c.model.base_sigma = self.base_sigma;
        c.model.couplings = self.couplings;
        let o = &mut c.objective;
        o.kind = self.objective;
        o.projection = self.projection;
        o.n_projections = self.n_projections;
        o.sigma = self.sigma;
        o.sigma_min = self.sigma_min;
        o.sigma_max = self.sigma_max;
        o.levels = self.levels;
        let t = &mut c.train;
        t.steps = self.steps;
        t.epochs = self.epochs;
        t.batch_size = self.batch_size;
        t.lr = self.lr;
        t.optimizer = self.optimizer;
        t.momentum = self.momentum;
        t.weight_decay = self.weight_decay;
        t.schedule = self.schedule;
        t.warmup_steps = self.warmup_steps;
        t.min_lr = self.min_lr;
        t.lr_step_size = self.lr_step_size;
        t.lr_gamma = self.lr_gamma;
        t.clip_grad_norm = self.clip_grad_norm;
        t.patience = self.patience;
        t.eval_every = self.eval_every;
        c
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
    let file = match &args.config {
        Some(path) => RunConfig::from_file(path)?,
        None => RunConfig::default(),
    };
    let (config, notes) = file.merge(&args.overrides()).resolve();
    config.validate()?;
    common::notes(verbosity, &notes);
    let plan = prepare(config, args)?;
    let discrete = plan.raw_columns_discrete.iter().map(|(name, k)| {
        format!(
            "column '{name}' takes only {k} distinct values; score matching assumes continuous \
             data and its loss can fall without bound on such a column: drop it, or add \
             dequantisation noise"
        )
    });
    common::notes(verbosity, &discrete.collect::<Vec<_>>());
    train_model(&plan, args, verbosity)
}

/// Loads and splits the data, builds the model, objective and optimisation settings, and
/// creates the run folder.
fn prepare(config: RunConfig, args: &TrainArgs) -> Result<Plan> {
    let seed = config.seed();
    let d = &config.data;
    let source = d.source.clone().unwrap_or_default();
    let data = load_data(&source, d.n_samples.unwrap_or(0), seed)?;
    let raw_columns_discrete = data.discrete_columns(DISCRETE_MAX_DISTINCT);
    let val_fraction = d.val_fraction.unwrap_or(0.0);
    let split = data.split(1.0 - val_fraction, val_fraction, seed.wrapping_add(1))?;
    let standardizer = if d.standardize.unwrap_or(true) {
        Some(Standardizer::fit(&split.train).context("cannot standardise the training data")?)
    } else {
        None
    };
    let to_model = |ds: &Dataset| -> Result<Dataset> {
        Ok(match &standardizer {
            Some(s) => s.transform(ds)?,
            None => ds.clone(),
        })
    };
    let train_data = to_model(&split.train)?;
    let validation =
        if split.validation.is_empty() { None } else { Some(to_model(&split.validation)?) };
    let model = config.model_config(data.d())?;
    let objective = config.objective();
    objective.validate(model.model()).map_err(|e| usage(e.to_string()))?;
    let train = config.train_config(train_data.n())?;
    train.optimizer.validate().map_err(|e| usage(e.to_string()))?;
    train.schedule.validate().map_err(|e| usage(e.to_string()))?;
    let dir = run_dir(args.out.as_deref(), args.name.as_deref(), args.force)?;
    Ok(Plan {
        config,
        model,
        objective,
        train,
        train_raw: split.train,
        train_data,
        validation,
        standardizer,
        dir,
        raw_columns_discrete,
    })
}

/// Trains at the configured precision, then writes the run folder.
fn train_model(plan: &Plan, args: &TrainArgs, verbosity: Verbosity) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(plan.config.seed().wrapping_add(2));
    let mut model = ModelHandle::init(plan.model.clone(), plan.config.dtype(), &mut rng)
        .with_standardizer(plan.standardizer.clone());
    let total = plan.train.total_steps(plan.train_data.n())?;
    let n_params = model.n_params();
    let source = plan.config.data.source.as_deref().unwrap_or_default();
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
    saved.training = Some(training_record(plan, &report));
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
    if plan.config.plots.unwrap_or(true) {
        progress.finish("");
        common::detail(verbosity, "drawing the figures");
        let view = ModelView {
            model: &model,
            sigma: match plan.objective {
                Objective::MsDsm { sigma_min, .. } => Some(sigma_min),
                _ => None,
            },
            threads: plan.config.threads(),
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

/// The checkpoint's training record: the configuration (without where it was written),
/// the objective and the outcome. No wall-clock values, so equal runs write equal files.
fn training_record(plan: &Plan, report: &TrainReport) -> serde_json::Value {
    json!({
        "config": plan.config,
        "objective": plan.objective,
        "n_train": plan.train_data.n(),
        "n_validation": plan.validation.as_ref().map_or(0, Dataset::n),
        "stop": report.stop,
        "steps_done": report.steps_done,
        "best_validation": report.best.map(|(step, loss)| json!({"step": step, "loss": loss})),
        "final_loss": report.history.last().map(|m| m.loss),
    })
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
        config.to_toml()?
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
