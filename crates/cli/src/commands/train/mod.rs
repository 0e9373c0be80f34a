//! `scorematch train`: fit a model and write a run folder.
//!
//! The folder holds `checkpoint.safetensors` (the parameters the run keeps — its best
//! validation step's, else its last — with the model, standardisation and training record),
//! `last.safetensors` (the last step, with everything `--resume` needs), `config.toml`
//! (the resolved configuration: `--config` it to repeat the run), `metrics.csv` (one row per
//! step; no wall-clock columns, so equal runs give equal files) and, for 2-D data,
//! `density.png`, `score.png`, `samples.png`, for other data `corner.png`, with
//! `--image-shape` `images.png`, plus `loss.png`; with `--save-splits`, `train.csv` and
//! `validation.csv` (the rows of the split, as given). See [`folder`] for when each is
//! written.
//!
//! On a data file (not a built-in density) the run stops early by default
//! (`scorematch::config::OWN_DATA_PATIENCE` validations without improvement), and the last
//! line says which step the checkpoint holds and why.
//!
//! SIGINT (Ctrl-C), SIGTERM and SIGHUP stop the run after the current step and save it
//! (exit status 128 + the signal's number); a second signal quits at once ([`crate::signals`]).
//! The state is also saved every `--checkpoint-every` steps (default: every 60 s), so a
//! kill loses at most that much; `--resume DIR` continues a run bit for bit. A non-finite
//! loss saves the parameters kept so far and exits with status 1 and advice.
//!
//! `--distributed` (a build with the `mpi` feature, under `mpirun -np N`) trains on the
//! ranks of the MPI job through the library's [`Communicator`]: every rank loads and
//! prepares the data and takes the same steps; rank 0 alone creates and writes the run
//! folder, prints and draws. Every decision that ends the run on one rank (a failure while
//! preparing, an error in a step, a signal) is agreed by all ranks ([`agreed`],
//! [`scorematch::train::Trainer::step`]), so no rank waits for ever, and one message, from
//! rank 0, names the failing rank and its cause.

mod folder;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;

use scorematch::comm::{self, Communicator};
use scorematch::config::RunRows;
use scorematch::data::{FEW_DISTINCT, Rows, default_columns};
use scorematch::handle::ModelHandle;
use scorematch::model::ModelConfig;
use scorematch::objective::Objective;
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;
use scorematch::train::{HeldStep, StepMetrics, StopReason, TrainConfig, TrainReport, TrainState};

use super::common;
use crate::config::{self, RunConfig, RunFlags};
use crate::error::{self, Exit, usage};
use crate::figures::{FIGURE_FILES, ModelView, training_figures};
use crate::files::{SPLIT_FILES, load_run_data, run_dir, save_table};
use crate::progress::{Progress, Verbosity};
use crate::signals;
use folder::{CHECKPOINT, CONFIG, LAST, METRICS, RecordBase, RunFolder};

/// How often the state is saved when `--checkpoint-every` is not set.
const SAVE_INTERVAL: Duration = Duration::from_secs(60);

const EXAMPLES: &str = "\
Examples:
  scorematch train                                   # MLP energy, ssm-vr, eight Gaussians
  scorematch train --data two-moons --steps 5000 --name moons
  scorematch train --data wine.csv --hidden 128,128 --val-fraction 0.2 --patience 5
  scorematch train --model nice --objective mle --data rings
  scorematch train --model ncsn-score --objective ms-dsm --sigma-max 2 --levels 10
  scorematch train --objective dsm --sigma 0.05 --optimizer sgd --momentum 0.9 --lr 0.01
  scorematch train --config runs/moons/config.toml --out runs/moons-again   # repeat a run
  scorematch train --resume runs/moons --steps 10000  # continue a stopped or finished run

Each flag's default is shown beside it. Settings come from --config FILE (TOML, the format
of a run's config.toml, whose keys are the flags' names in sections [data], [model],
[objective], [train], [sample]), then the flags typed here override them.

SIGINT (Ctrl-C), SIGTERM and SIGHUP stop the run after the current step and save it
(checkpoint.safetensors: the best validation step, or the last; last.safetensors: the last
step, for --resume); the exit status is then 128 + the signal's number (130, 143, 129).";

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
    /// Continue the run in this folder from its last saved step (last.safetensors), as it
    /// was configured; only --steps (the new total) and --threads may be given with it.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["config", "out", "name", "force"],
        help_heading = "Output"
    )]
    pub resume: Option<PathBuf>,
    /// Write the run's training and validation rows (raw coordinates, before any
    /// dequantisation noise) to train.csv and validation.csv in the run folder.
    #[arg(long, conflicts_with = "resume", help_heading = "Output")]
    pub save_splits: bool,
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
            Some(path) => config::from_file(path, &self.settings)?,
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
    /// The rows, raw and in model coordinates, and the maps between them.
    rows: RunRows,
    /// What the user should know about the data before training: columns that look
    /// discrete and are not dequantised; how a distributed run reads its rows.
    data_notes: Vec<String>,
}

impl Plan {
    /// What every save records beside the parameters.
    fn record_base(&self) -> RecordBase {
        RecordBase {
            config: self.config.clone(),
            objective: self.objective.clone(),
            n_train: self.rows.train.n(),
            n_validation: self.rows.n_validation(),
        }
    }
}

/// Where a run starts: fresh parameters, or a saved state.
struct Start {
    model: ModelHandle,
    resume: Option<TrainState>,
    folder: Folder,
    /// The metrics of the steps already done (a resumed run's).
    history: Vec<StepMetrics>,
}

/// The run folder on rank 0, which alone writes; `None` on the other ranks.
type Folder = Option<RunFolder>;

/// Runs `scorematch train`.
pub fn run(args: &TrainArgs, verbosity: Verbosity) -> Result<()> {
    if let Some(dir) = &args.resume {
        return resume(args, dir, verbosity);
    }
    let (config, notes) = args.configuration()?;
    let comm = comm::for_run(config.distributed)?;
    let comm = comm.as_ref();
    let verbosity = rank_verbosity(comm, verbosity);
    let result = (|| {
        common::notes(verbosity, &notes);
        let plan = prepare(config, comm).and_then(|plan| {
            plan.train.check_ranks(comm.size())?;
            Ok(plan)
        });
        let plan = agreed(comm, plan)?;
        common::notes(verbosity, &plan.data_notes);
        let mut rng = Stream::Init.rng(plan.config.seed);
        let model = ModelHandle::init(plan.model.clone(), plan.config.dtype, &mut rng)
            .init_from_data(plan.rows.train.as_ref(), &mut rng)?
            .with_transform(plan.rows.transform.clone())
            .with_standardizer(plan.rows.standardizer.clone())
            .with_columns(plan.rows.train_raw.column_names().map(<[String]>::to_vec));
        let folder =
            agreed(comm, (comm.rank() == 0).then(|| start_folder(&plan, args)).transpose())?;
        let start = Start { model, resume: None, folder, history: Vec::new() };
        train_model(comm, &plan, start, args, verbosity)
    })();
    on_rank(comm, result)
}

/// Creates the run folder of a new run (and writes the splits when asked).
fn start_folder(plan: &Plan, args: &TrainArgs) -> Result<RunFolder> {
    let inputs = config_inputs(&plan.config, args.config.as_deref());
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let dir = run_dir(args.out.as_deref(), args.name.as_deref(), args.force, &inputs)?;
    let folder = RunFolder::start(&dir, &plan.config)?;
    if args.save_splits {
        save_splits(plan, &folder)?;
    }
    Ok(folder)
}

/// Rank 0 speaks; the other ranks of a distributed run are quiet.
fn rank_verbosity(comm: &dyn Communicator, verbosity: Verbosity) -> Verbosity {
    if comm.rank() == 0 { verbosity } else { Verbosity::Quiet }
}

/// `local` where every rank succeeded; otherwise, on every rank of a distributed run, the
/// error of the lowest failing rank, naming it ([`comm::agree`]). A collective call: every
/// rank makes it at the same point.
fn agreed<T>(comm: &dyn Communicator, local: Result<T>) -> Result<T> {
    // An error the ranks already agreed on in a collective of the library: every rank holds
    // it, from the same call, so none takes part in another agreement.
    if let Err(e) = &local
        && is_agreed(e)
    {
        return local;
    }
    let status = local.as_ref().map(|_| ()).map_err(|e| {
        let message = error::report(e, "train").1;
        scorematch::Error::InvalidArgument(message.trim_start_matches("error: ").to_string())
    });
    match comm::agree(comm, status) {
        Err(e) if comm.size() > 1 => Err(e.into()),
        _ => local,
    }
}

/// Whether `e` is an error the ranks agreed on in a collective ([`comm::agree`]): every rank
/// holds it, from the same call.
fn is_agreed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref(), Some(scorematch::Error::Rank { .. })))
}

/// The outcome of this rank: rank 0's as it is; another rank's with its exit status but no
/// message (rank 0 reports for all). An error the ranks agreed on ([`comm::agree`]: every
/// rank holds it, at the same point) is said by rank 0 before any rank exits — the others
/// wait in a sum until it has — because `mpirun` ends the whole job as soon as one rank
/// exits with an error, which could cut rank 0 off before it speaks.
fn on_rank(comm: &dyn Communicator, result: Result<()>) -> Result<()> {
    let Err(e) = result else { return result };
    let (code, message) = error::report(&e, "train");
    if comm.size() > 1 && is_agreed(&e) {
        if comm.rank() == 0 {
            crate::output::err_line(&message);
        }
        comm.sum_f64(&mut [0.0]);
        return Err(Exit { code, message: String::new() }.into());
    }
    if comm.rank() > 0 {
        return Err(Exit { code, message: String::new() }.into());
    }
    Err(e)
}

/// The figures draw at most this many values of the training rows (a distributed run's
/// rank 0 reads them from the data file).
const FIGURE_VALUES: usize = 10_000_000;

/// Columns that take a few distinct values each, as `(name, count)`, with more than this
/// many noted in one line.
const DISCRETE_NOTES: usize = 3;

/// The notes on `discrete` columns that no dequantisation covers: one per column, or one
/// for them all when there are more than [`DISCRETE_NOTES`] (the 64 pixels of the digits).
fn discrete_notes(discrete: &[(String, usize)]) -> Vec<String> {
    const WHY: &str =
        "score matching assumes continuous data and its loss can fall without bound on such";
    if discrete.len() > DISCRETE_NOTES {
        let names: Vec<&str> = discrete.iter().map(|(name, _)| name.as_str()).collect();
        let shown = if names.len() > 8 {
            format!("{}, …", names[..8].join(", "))
        } else {
            names.join(", ")
        };
        return vec![format!(
            "{} columns take only a few distinct values each ({shown}); {WHY} columns: add \
             dequantisation noise (--dequantize auto), or drop them (--drop-columns)",
            names.len()
        )];
    }
    discrete
        .iter()
        .map(|(name, k)| {
            format!(
                "column '{name}' takes only {k} distinct values; {WHY} a column: add dequantisation noise \
                 (--dequantize auto), or drop it (--drop-columns {name})"
            )
        })
        .collect()
}

/// `--save-splits`: the training rows and, when some are held out, the validation rows, in
/// raw coordinates with the data's column names.
fn save_splits(plan: &Plan, folder: &RunFolder) -> Result<()> {
    for (path, rows) in split_files(plan, folder) {
        save_table(&path, &rows.head(usize::MAX)?)?;
    }
    Ok(())
}

/// The files `--save-splits` writes and their rows.
fn split_files<'a>(plan: &'a Plan, folder: &RunFolder) -> Vec<(PathBuf, &'a Arc<dyn Rows>)> {
    let [train, validation] = SPLIT_FILES;
    let mut files = vec![(folder.path(train), &plan.rows.train_raw)];
    if plan.rows.validation_raw.n() > 0 {
        files.push((folder.path(validation), &plan.rows.validation_raw));
    }
    files
}

/// The files a run of `config` reads: the data (when it is a file) and the configuration
/// file.
fn config_inputs(config: &RunConfig, config_file: Option<&Path>) -> Vec<PathBuf> {
    let data = PathBuf::from(&config.data.source);
    [Some(data), config_file.map(Path::to_path_buf)].into_iter().flatten().collect()
}

/// `--resume DIR`: the run in DIR continued from its `last.safetensors`, with its own
/// configuration (up to a new `--steps`, and `--threads`).
fn resume(args: &TrainArgs, dir: &Path, verbosity: Verbosity) -> Result<()> {
    let allowed = ["--steps", "--threads"];
    if let Some(flag) =
        args.settings.typed_flags().into_iter().find(|f| !allowed.contains(&f.as_str()))
    {
        return Err(usage(format!(
            "{flag} cannot be changed when resuming: --resume continues the run as it was \
             configured (only --steps, the new total, and --threads may be given); start a new \
             run with --config {} to change it",
            dir.join(CONFIG).display()
        )));
    }
    let last = dir.join(LAST);
    if !last.exists() {
        return Err(usage(format!(
            "{} has no {LAST} to resume from (the run stopped before its first save, or it is \
             not a run folder); start a new run",
            dir.display()
        )));
    }
    let saved = crate::files::load_checkpoint(&last)?;
    let (Some(record), Some(state)) = (saved.training.clone(), saved.resume.clone()) else {
        return Err(usage(format!("{} holds no training state to resume from", last.display())));
    };
    let mut config = record.config.clone();
    args.settings.apply(&mut config)?;
    let mut config = config.resolved();
    // The run keeps the patience it was recorded with: one recorded before data files got
    // a default patience has none, and must not start stopping early when resumed.
    config.train.patience = record.config.train.patience;
    config.validate()?;
    let comm = comm::for_run(config.distributed)?;
    let comm = comm.as_ref();
    let verbosity = rank_verbosity(comm, verbosity);
    let result = (|| {
        let plan = agreed(comm, prepare(config, comm))?;
        check_same_data(&plan, &saved, record.n_train, record.n_validation)?;
        let total = plan.train.total_steps(plan.rows.train.n())?;
        if state.step >= total {
            return Err(usage(format!(
                "the run in {} has already completed its {total} steps: give --steps above {} \
                 to continue it",
                dir.display(),
                state.step
            )));
        }
        let resumed = (comm.rank() == 0).then(|| RunFolder::resume(dir, &plan.config, state.step));
        let (folder, history) = match agreed(comm, resumed.transpose())? {
            Some((folder, history)) => (Some(folder), history),
            None => (None, Vec::new()),
        };
        let model = ModelHandle::from_saved(&saved);
        let start = Start { model, resume: Some(state), folder, history };
        train_model(comm, &plan, start, args, verbosity)
    })();
    on_rank(comm, result)
}

/// Refuses to resume on data other than the run's: the same row counts, the same transform
/// and the same standardisation (means and scales of the training rows, equal bit for bit).
fn check_same_data(plan: &Plan, saved: &SavedModel, n_train: usize, n_val: usize) -> Result<()> {
    let n_val_now = plan.rows.n_validation();
    if plan.rows.train.n() != n_train || n_val_now != n_val || !plan.rows.same_maps(saved) {
        // Sums over the ranks round differently on another number of ranks.
        let ranks = if plan.config.distributed && plan.config.file_rows_source().is_ok() {
            " (a run that reads its rows from a .npy file standardises them by sums over its \
             ranks: resume it on as many ranks as it started with)"
        } else {
            ""
        };
        return Err(usage(format!(
            "the data '{}' is not what the run was trained on ({} training and {} validation \
             rows now, {n_train} and {n_val} then, or different values); resume needs the same \
             data{ranks}",
            plan.config.data.source,
            plan.rows.train.n(),
            n_val_now
        )));
    }
    Ok(())
}

/// Loads and splits the data, builds the model, objective and optimisation settings. A
/// distributed run on a `.npy` file reads its rows from the file as its batches need them
/// (`RunConfig::prepare_file_rows`); otherwise every process loads the whole data.
/// Collective on the ranks of `comm`.
fn prepare(config: RunConfig, comm: &dyn Communicator) -> Result<Plan> {
    match config.file_rows_source() {
        Ok(_) if config.distributed => {
            let rows = config
                .prepare_file_rows(comm)
                .context("cannot read and standardise the training rows")?;
            config.figures.check_columns(&default_columns(rows.train.d()))?;
            let note = "each rank reads the rows of its part of each batch from the .npy file \
                        as it needs them; the standardisation is fitted from sums over the \
                        ranks";
            plan_from(config, rows, vec![note.to_string()])
        }
        Err(why) if config.distributed && comm.size() > 1 => {
            let note = format!("every rank loads the whole data ({why})");
            let mut plan = prepare_in_memory(config)?;
            plan.data_notes.push(note);
            Ok(plan)
        }
        _ => prepare_in_memory(config),
    }
}

/// [`prepare`] with the whole data loaded in memory.
fn prepare_in_memory(config: RunConfig) -> Result<Plan> {
    let data = load_run_data(&config)?;
    config.figures.check_columns(data.columns())?;
    let rows =
        config.prepare_rows(&data).context("cannot split and standardise the training data")?;
    let dequantized = |j: usize| rows.transform.as_ref().is_some_and(|t| t.dequantize[j] > 0.0);
    let discrete: Vec<(String, usize)> = data
        .discrete_columns(FEW_DISTINCT)
        .into_iter()
        .filter(|(name, _)| !data.columns().iter().position(|c| c == name).is_some_and(dequantized))
        .collect();
    plan_from(config, rows, discrete_notes(&discrete))
}

/// The plan of a run of `config` on `rows`.
fn plan_from(config: RunConfig, rows: RunRows, data_notes: Vec<String>) -> Result<Plan> {
    let model = config.model_config(rows.train.d())?;
    let objective = config.objective();
    let train = config.train_config(rows.train.n())?;
    Ok(Plan { config, model, objective, train, rows, data_notes })
}

/// Trains at the configured precision on the ranks of `comm`, rank 0 saving the run as it
/// goes, then drawing the figures.
fn train_model(
    comm: &dyn Communicator,
    plan: &Plan,
    start: Start,
    args: &TrainArgs,
    verbosity: Verbosity,
) -> Result<()> {
    let Start { mut model, resume, mut folder, mut history } = start;
    let base = plan.record_base();
    let mut trainer = model.trainer(
        comm,
        &plan.objective,
        plan.rows.train.as_ref(),
        plan.rows.validation.as_deref(),
        &plan.train,
        resume.as_ref(),
    )?;
    let (total, first) = (trainer.total_steps(), trainer.steps_done());
    let mut progress = Progress::new(total, verbosity, args.log_every);
    let from = if first > 0 { format!(" from step {first}") } else { String::new() };
    let ranks = if comm.size() > 1 { format!(" on {} ranks", comm.size()) } else { String::new() };
    let dir = folder.as_ref().map(|f| f.dir().display().to_string()).unwrap_or_default();
    progress.message(&format!(
        "training {} ({} parameters, {}) on {} ({} rows, {} validation) by {} for {total} steps{from}{ranks} -> {dir}",
        plan.model.kind_name(),
        model.n_params(),
        model.dtype(),
        plan.config.data.source,
        plan.rows.train.n(),
        base.n_validation,
        plan.objective.name(),
    ));
    progress.verbose(&format!("configuration:\n{}", config::to_toml(&plan.config)?.trim_end()));
    let every = plan.config.train.checkpoint_every;
    let (mut saved_at, mut saved_when) = (first, Instant::now());
    let mut last_val = history.iter().rev().find_map(|m| m.val_loss);
    let graceful = signals::Graceful::begin();
    // A write that fails on rank 0 stops every rank at the next step (an interrupt), then
    // is reported: returning at once would leave the other ranks waiting in the step.
    let mut failed_write = None;
    while let Some(m) = trainer.step()? {
        last_val = m.val_loss.or(last_val);
        progress.update(m.step, m.loss, last_val, m.steps_per_sec);
        let due = save_due(every, trainer.steps_done() - saved_at, saved_when.elapsed());
        let written = folder.as_mut().map_or(Ok(()), |folder| {
            folder.record(&m)?;
            if due && signals::requested().is_none() {
                folder.save(&model, trainer.as_ref(), &base, true)?;
            }
            Ok(())
        });
        if due {
            (saved_at, saved_when) = (trainer.steps_done(), Instant::now());
        }
        history.push(m);
        if let Err(e) = written {
            failed_write = Some(e);
            trainer.interrupt();
        } else if signals::requested().is_some() {
            trainer.interrupt();
        }
    }
    if let Some(e) = failed_write {
        return Err(e);
    }
    let stop = trainer.stop_reason().cloned().unwrap_or(StopReason::Completed);
    let diverged = matches!(stop, StopReason::NonFinite { .. });
    let Some(mut folder) = folder else {
        // Another rank: rank 0 writes and reports; this one ends with the same status.
        return match stop {
            StopReason::Interrupted => Err(Exit {
                code: signals::requested().map_or(error::FAILURE, signals::exit_code),
                message: String::new(),
            }
            .into()),
            StopReason::NonFinite { .. } => {
                Err(Exit { code: error::FAILURE, message: String::new() }.into())
            }
            StopReason::Completed | StopReason::EarlyStopped | StopReason::InProgress => Ok(()),
        };
    };
    let held = folder.save(&model, trainer.as_ref(), &base, !diverged)?;
    drop(graceful);
    let report = trainer.report(history);
    model.set_params(&trainer.kept_f64().1)?;
    drop(trainer);
    let saved_to = saved_line(folder.dir(), &report, held, diverged);
    match report.stop {
        StopReason::Interrupted => {
            progress.finish("");
            let signal = signals::requested().unwrap_or(0);
            return Err(Exit {
                code: signals::exit_code(signal),
                message: format!(
                    "interrupted by {} after step {} of {total}: {saved_to}; metrics.csv and \
                     config.toml beside them; no plots were drawn. Continue with: scorematch \
                     train --resume {}",
                    signals::name(signal),
                    report.steps_done,
                    folder.dir().display()
                ),
            }
            .into());
        }
        StopReason::NonFinite { step } => {
            progress.finish("");
            return Err(Exit {
                code: error::FAILURE,
                message: format!(
                    "error: the loss or its gradient became non-finite at step {step}; {saved_to}.\n\
                     Try a lower --lr (now {}), --clip-grad-norm 1, a smaller --base-sigma, or --dtype f64.",
                    plan.train.lr
                ),
            }
            .into());
        }
        StopReason::Completed | StopReason::EarlyStopped | StopReason::InProgress => {}
    }
    let mut written = [CHECKPOINT, LAST, CONFIG, METRICS].map(|f| folder.path(f)).to_vec();
    if args.save_splits {
        written.extend(split_files(plan, &folder).into_iter().map(|(path, _)| path));
    }
    progress.finish("");
    if plan.config.plots {
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
            folder.dir(),
            &view,
            &plan.rows.train_raw.head(FIGURE_VALUES / plan.rows.train_raw.d())?,
            &plan.config.sampler_config(),
            &report.history,
            plan.objective.name(),
            &plan.config.figures,
        )
        .with_context(|| {
            format!(
                "the run is saved in {}, but drawing its figures failed",
                folder.dir().display()
            )
        })?;
        common::notes(verbosity, &figures.notes);
        written.extend(figures.written);
    }
    let line = summary(&report, first, plan.train.patience);
    common::say(verbosity, &format!("{line}; {saved_to}"));
    // A forced rerun into an old run folder: figures (and splits) this run did not write
    // would otherwise sit beside the new checkpoint as if they belonged to it.
    // A resumed run keeps the splits its start wrote.
    let splits = if first == 0 { &SPLIT_FILES[..] } else { &[] };
    for stale in FIGURE_FILES.iter().chain(splits).map(|f| folder.path(f)) {
        if !written.contains(&stale) && stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("cannot remove the old {}", stale.display()))?;
        }
    }
    common::say(verbosity, &format!("wrote {}", list_files(folder.dir(), &written)));
    Ok(())
}

/// Whether the state is due to be saved, `steps` steps and `elapsed` after the last save:
/// every `every` steps when set, else every [`SAVE_INTERVAL`].
fn save_due(every: Option<usize>, steps: usize, elapsed: Duration) -> bool {
    match every {
        Some(n) => steps >= n,
        None => elapsed >= SAVE_INTERVAL,
    }
}

/// Which file holds which step: "checkpoint.safetensors holds step 800 (best validation),
/// last.safetensors step 3000".
fn saved_line(dir: &Path, report: &TrainReport, held: HeldStep, diverged: bool) -> String {
    let checkpoint = dir.join(CHECKPOINT);
    let last = dir.join(LAST);
    if diverged {
        let previous = if last.exists() {
            format!("; {} keeps the last state saved before it", last.display())
        } else {
            String::new()
        };
        return format!("{} holds {held}{previous}", checkpoint.display());
    }
    format!(
        "{} holds {held}, {} step {} (last, to resume from)",
        checkpoint.display(),
        last.display(),
        report.steps_done
    )
}

/// One line on how training went, for a run that started at step `first` with early
/// stopping after `patience` validations without improvement.
fn summary(report: &TrainReport, first: usize, patience: Option<usize>) -> String {
    let new_steps = report.steps_done - first;
    let rate = new_steps as f64 / report.seconds.max(1e-9);
    let mut s = format!("trained {new_steps} steps in {:.1} s ({rate:.0} steps/s)", report.seconds);
    if first > 0 {
        s.push_str(&format!(", steps {} to {}", first + 1, report.steps_done));
    }
    if let Some(loss) = report.final_loss {
        s.push_str(&format!(", final loss {loss:.4}"));
    }
    if let Some((step, v)) = report.best {
        s.push_str(&format!(", best validation loss {v:.4} at step {step}"));
    }
    if report.stop == StopReason::EarlyStopped {
        let n = patience
            .map(|p| format!(" in {p} validation{}", if p == 1 { "" } else { "s" }))
            .unwrap_or_default();
        s.push_str(&format!(
            " (stopped early at step {}: no better validation loss{n}; --patience to change)",
            report.steps_done
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_discrete_columns_make_one_note() {
        let columns = |n: usize| (0..n).map(|j| (format!("p{j}"), 17)).collect::<Vec<_>>();
        let few = discrete_notes(&columns(2));
        assert_eq!(few.len(), 2);
        assert!(few[1].starts_with("column 'p1' takes only 17 distinct values;"), "{few:?}");
        assert!(few[1].contains("on such a column: add") && few[1].contains("--drop-columns p1"));
        let many = discrete_notes(&columns(64));
        assert_eq!(many.len(), 1);
        assert!(many[0].starts_with("64 columns take only a few distinct values each (p0, p1,"));
        assert!(many[0].contains("p7, …)") && !many[0].contains("p8"), "{many:?}");
        assert!(many[0].contains("such columns: add dequantisation noise (--dequantize auto)"));
    }
}
