//! `scorematch eval`: how well a checkpoint fits data.
//!
//! Every number is reported with what it measures, the direction that is better, the space
//! it is in and how far it can be trusted ([`Measure`]): one list feeds both the table and
//! `--json`. `--run DIR` evaluates a run on its own validation rows, recomputed from its
//! configuration (the same seed and data give the same split:
//! `scorematch::config::RunConfig::prepare_rows`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use serde_json::json;

use scorematch::data::Dataset;
use scorematch::eval::{EvalReport, IS_MIN_ESS, LikelihoodMethod, TrueScore};
use scorematch::handle::ModelHandle;
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;

use super::common;
use crate::columns::ColumnFlags;
use crate::error::usage;
use crate::files::load_run_data;
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch eval --checkpoint runs/x/checkpoint.safetensors --data eight-gaussians
  scorematch eval --checkpoint model.safetensors --data test.csv --json
  scorematch eval --run runs/x          # on the run's own validation rows

Reports, where they apply: the held-out score-matching objective (exact SM for D <= 16,
sliced SM-VR above; the training ms-dsm for ncsn-score), the mean log-likelihood (exact for
nice and gaussian, grid quadrature of log Z for 1-D and 2-D energies, importance sampling
above), the Fisher divergence to the true score (built-in datasets with a known score) and
the kernel Stein discrepancy. Each line says what the number is, whether lower or higher is
better, and how reliable it is; --json carries the same under \"measures\".

Spaces: the log-likelihood is reported in the data's own space (log p of the rows as given,
including the standardisation's Jacobian -Σ log s and any --logit transform's; with
--dequantize, the density of the dequantised data) and in model coordinates; the held-out
objective, Fisher divergence and KSD² are in model coordinates, comparable only between
models of the same data and preprocessing. Built-in data is drawn from a stream independent
of the one training used, so it is held out whatever --seed.";

/// Flags of `scorematch eval`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct EvalArgs {
    /// The checkpoint to evaluate [default with --run: DIR/checkpoint.safetensors].
    #[arg(long, value_name = "FILE", required_unless_present = "run")]
    pub checkpoint: Option<PathBuf>,
    /// Built-in dataset name, .csv file (header row) or .npy file, in raw coordinates.
    #[arg(long, value_name = "NAME|FILE", required_unless_present = "run", conflicts_with = "run")]
    pub data: Option<String>,
    /// Evaluate the run in this folder on its own validation rows (the split recomputed from
    /// the run's configuration and data).
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Samples to draw from a built-in dataset.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub n_samples: usize,
    /// Seed of built-in data and of the estimators' randomness.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Worker threads.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = common::parse_threads)]
    pub threads: usize,
    /// The data's columns to use.
    #[command(flatten)]
    pub columns: ColumnFlags,
}

/// One reported number: what it is, which way is better, its space and its reliability.
#[derive(Debug, Clone, Serialize)]
struct Measure {
    /// The table's label.
    name: String,
    /// The value.
    value: f64,
    /// Its standard error, when one is estimated and meaningful.
    std_err: Option<f64>,
    /// What it measures, in one line.
    meaning: &'static str,
    /// "lower" or "higher".
    better: &'static str,
    /// "data" (the rows as given) or "model coordinates".
    space: &'static str,
    /// Whether the estimate can be trusted as shown.
    reliable: bool,
    /// How it was estimated, and why it can or cannot be trusted.
    reliability: String,
}

/// Runs `scorematch eval`.
pub fn run(args: &EvalArgs, verbosity: Verbosity) -> Result<()> {
    let checkpoint = match (&args.checkpoint, &args.run) {
        (Some(c), _) => c.clone(),
        (None, Some(dir)) => dir.join("checkpoint.safetensors"),
        (None, None) => return Err(usage("give --checkpoint FILE (or --run DIR)")),
    };
    let saved = common::open_checkpoint(&checkpoint, verbosity)?;
    let (raw, data) = match &args.run {
        Some(dir) => run_validation_rows(args, dir, &saved)?,
        None => {
            let spec = args.data.as_deref().unwrap_or_default();
            let seed = Stream::HeldOut.seed(args.seed);
            (args.columns.load(&saved, spec, args.n_samples, seed)?, spec.to_string())
        }
    };
    let report = evaluate(args, &saved, &raw, &data)?;
    let measures = measures(&saved, &report);
    if args.json {
        let out = json!({
            "checkpoint": checkpoint,
            "model": saved.config.kind_name(),
            "data": data,
            "n": report.n,
            "dim": report.dim,
            "measures": measures,
            "heldout": report.heldout,
            "log_likelihood": report.log_likelihood,
            "mean_log_likelihood_raw": report.mean_log_likelihood_raw,
            "fisher_divergence": report.fisher,
            "ksd": report.ksd,
            "notes": report.notes,
        });
        crate::output::out_line(&serde_json::to_string_pretty(&out)?)?;
    } else {
        crate::output::out(&table(&checkpoint, &saved, &data, &report, &measures))?;
        common::notes(verbosity, &report.notes);
    }
    Ok(())
}

/// The validation rows of the run in `dir` (raw coordinates) and how to name them: its
/// configuration from the checkpoint's training record, its data loaded and split again,
/// checked against the checkpoint (the same transform, standardisation and row counts).
fn run_validation_rows(
    args: &EvalArgs,
    dir: &Path,
    saved: &SavedModel,
) -> Result<(Dataset, String)> {
    if args.columns.given() {
        return Err(usage(
            "--columns, --drop-columns and --ignore-column-names do not apply with --run: the \
             run's own columns are used",
        ));
    }
    let Some(record) = &saved.training else {
        return Err(usage(format!(
            "the checkpoint in {} records no training run to take validation rows from; \
             evaluate it with --data",
            dir.display()
        )));
    };
    let mut config = record.config.clone();
    if !Path::new(&config.data.source).exists()
        && scorematch::data::builtin_density(&config.data.source).is_none()
    {
        config.data.source = crate::config::resolve_data_file(&config.data.source, dir)?;
    }
    let data = load_run_data(&config)?;
    let rows = config.prepare_rows(&data).context("cannot split the run's data again")?;
    if rows.validation_raw.n() == 0 {
        return Err(usage(format!(
            "the run in {} held out no validation rows (val_fraction 0): evaluate it with --data",
            dir.display()
        )));
    }
    if rows.validation_raw.n() != record.n_validation || !rows.same_maps(saved) {
        return Err(usage(format!(
            "the data '{}' is not what the run in {} was trained on ({} validation rows now, {} \
             then, or different values): its validation rows cannot be recomputed; evaluate \
             with --data",
            config.data.source,
            dir.display(),
            rows.validation_raw.n(),
            record.n_validation
        )));
    }
    let name = format!("{} validation rows of {}", rows.validation_raw.n(), config.data.source);
    Ok((rows.validation_raw.head(usize::MAX)?, name))
}

/// Evaluates the checkpoint's model on `raw` (named `data`; a built-in name brings its true
/// score).
fn evaluate(args: &EvalArgs, saved: &SavedModel, raw: &Dataset, data: &str) -> Result<EvalReport> {
    let toy = scorematch::data::builtin_density(data).filter(|_| args.run.is_none());
    let model = ModelHandle::from_saved(saved);
    let config = model.eval_config(args.seed, args.threads)?;
    let truth = toy
        .filter(|t| t.has_true_score())
        .map(|t| move |x: &[f64]| t.score(x).unwrap_or_else(|| vec![f64::NAN; x.len()]));
    let truth_ref: Option<TrueScore<'_>> = truth.as_ref().map(|f| f as TrueScore<'_>);
    Ok(model.evaluate(raw, truth_ref, &config)?)
}

const MODEL: &str = "model coordinates";

/// The report's numbers, each with its meaning, direction, space and reliability.
fn measures(saved: &SavedModel, r: &EvalReport) -> Vec<Measure> {
    let mut out = Vec::new();
    if let Some(h) = &r.heldout {
        out.push(Measure {
            name: format!("held-out {}", h.objective),
            value: h.value,
            std_err: None,
            meaning: "the score-matching objective on these rows (the Fisher divergence to the \
                      data up to a constant); comparable only between models of the same data \
                      and objective",
            better: "lower",
            space: MODEL,
            reliable: true,
            reliability: format!("{} rows", h.rows),
        });
    }
    if let Some(l) = &r.log_likelihood {
        let (how, reliable) = match l.method {
            LikelihoodMethod::Exact => ("exact density".to_string(), true),
            LikelihoodMethod::Grid => (
                format!(
                    "log Z {:.4} by grid quadrature, {:.2}% of the mass on the grid's edge",
                    l.log_z.unwrap_or(f64::NAN),
                    100.0 * l.edge_mass.unwrap_or(0.0)
                ),
                l.reliable,
            ),
            LikelihoodMethod::ImportanceSampling if l.reliable => (
                format!(
                    "log Z {:.4} ± {:.2e} by importance sampling, effective sample size {:.0}",
                    l.log_z.unwrap_or(f64::NAN),
                    l.log_z_std_err.unwrap_or(f64::NAN),
                    l.ess.unwrap_or(0.0)
                ),
                true,
            ),
            LikelihoodMethod::ImportanceSampling => (
                format!(
                    "UNRELIABLE: importance sampling with an effective sample size of {:.1}, \
                     below {IS_MIN_ESS}",
                    l.ess.unwrap_or(0.0)
                ),
                false,
            ),
        };
        let nonlinear = saved.transform.as_ref().is_some_and(|t| t.logit.is_some());
        let data_space = r.mean_log_likelihood_raw.unwrap_or(l.mean_log_likelihood);
        out.push(Measure {
            name: "log-likelihood".into(),
            value: data_space,
            // The per-row Jacobian of a logit map changes the rows' spread; its standard
            // error is not estimated.
            std_err: (reliable && !nonlinear).then_some(l.std_err),
            meaning: "mean log p per row of the rows as given (with the standardisation's and \
                      any transform's Jacobian; with dequantisation, the dequantised data's \
                      density)",
            better: "higher",
            space: "data space",
            reliable,
            reliability: how.clone(),
        });
        if r.mean_log_likelihood_raw.is_some() {
            out.push(Measure {
                name: "log-likelihood (model coordinates)".into(),
                value: l.mean_log_likelihood,
                std_err: reliable.then_some(l.std_err),
                meaning: "mean log p per row where the model is fitted (after standardisation \
                          and transform)",
                better: "higher",
                space: MODEL,
                reliable,
                reliability: how,
            });
        }
    }
    if let Some(f) = &r.fisher {
        out.push(Measure {
            name: "Fisher divergence".into(),
            value: f.value,
            std_err: Some(f.std_err),
            meaning: "½ E‖model score − true score‖² over the rows; 0 at a perfect fit",
            better: "lower",
            space: MODEL,
            reliable: true,
            reliability: format!("{} rows, the true score of the built-in density", f.n),
        });
    }
    if let Some(k) = &r.ksd {
        let clear = k.ksd2 > 2.0 * k.std_err;
        out.push(Measure {
            name: "KSD²".into(),
            value: k.ksd2,
            std_err: Some(k.std_err),
            meaning: "kernel Stein discrepancy between the model and the rows (IMQ kernel); 0 \
                      at a perfect fit",
            better: "lower",
            space: MODEL,
            reliable: clear,
            reliability: if clear {
                format!("{} rows", k.n)
            } else {
                format!(
                    "{} rows; within two standard errors of 0, where the standard error \
                     understates the error: no measurable misfit",
                    k.n
                )
            },
        });
    }
    out
}

/// The human-readable report: one line per number, with its meaning.
fn table(
    checkpoint: &Path,
    saved: &SavedModel,
    data: &str,
    r: &EvalReport,
    measures: &[Measure],
) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("checkpoint".into(), format!("{} ({})", checkpoint.display(), common::describe(saved))),
        ("data".into(), format!("{data} ({} rows, {} columns)", r.n, r.dim)),
    ];
    for m in measures {
        let value = match m.std_err.filter(|e| e.is_finite()) {
            Some(e) => format!("{:.6} ± {e:.2e}", m.value),
            None => format!("{:.6}", m.value),
        };
        rows.push((
            m.name.clone(),
            format!(
                "{value} ({}; {} is better; {}; {})",
                m.reliability, m.better, m.space, m.meaning
            ),
        ));
    }
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}
