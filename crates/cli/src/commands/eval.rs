//! `scorematch eval`: how well a checkpoint fits data.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use scorematch::eval::{EvalReport, IS_MIN_ESS, TrueScore};
use scorematch::handle::ModelHandle;
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;

use super::common;
use crate::columns::ColumnFlags;
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch eval --checkpoint runs/x/checkpoint.safetensors --data eight-gaussians
  scorematch eval --checkpoint model.safetensors --data test.csv --json

Reports, where they apply: the held-out score-matching objective (exact SM for D <= 16,
sliced SM-VR above; the training ms-dsm for ncsn-score), the mean log-likelihood (exact for
nice and gaussian, grid quadrature of log Z for 1-D and 2-D energies, importance sampling
above), the Fisher divergence to the true score (built-in datasets with a known score) and
the kernel Stein discrepancy. Built-in data is drawn from a stream independent of the one
training used, so it is held out whatever --seed.";

/// Flags of `scorematch eval`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct EvalArgs {
    /// The checkpoint to evaluate.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Built-in dataset name, .csv file (header row) or .npy file, in raw coordinates.
    #[arg(long, value_name = "NAME|FILE")]
    pub data: String,
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

/// Runs `scorematch eval`.
pub fn run(args: &EvalArgs, verbosity: Verbosity) -> Result<()> {
    let saved = common::open_checkpoint(&args.checkpoint, verbosity)?;
    let report = evaluate(args, &saved)?;
    if args.json {
        let out = json!({
            "checkpoint": args.checkpoint,
            "model": saved.config.kind_name(),
            "data": args.data,
            "n": report.n,
            "dim": report.dim,
            "heldout": report.heldout,
            "log_likelihood": report.log_likelihood,
            "mean_log_likelihood_raw": report.mean_log_likelihood_raw,
            "fisher_divergence": report.fisher,
            "ksd": report.ksd,
            "notes": report.notes,
        });
        crate::output::out_line(&serde_json::to_string_pretty(&out)?)?;
    } else {
        crate::output::out(&table(args, &saved, &report))?;
        common::notes(verbosity, &report.notes);
    }
    Ok(())
}

/// Loads the data and evaluates the checkpoint's model on it.
fn evaluate(args: &EvalArgs, saved: &SavedModel) -> Result<EvalReport> {
    let toy = scorematch::data::builtin_density(&args.data);
    let raw =
        args.columns.load(saved, &args.data, args.n_samples, Stream::HeldOut.seed(args.seed))?;
    let model = ModelHandle::from_saved(saved);
    let config = model.eval_config(args.seed, args.threads)?;
    let truth = toy
        .filter(|t| t.has_true_score())
        .map(|t| move |x: &[f64]| t.score(x).unwrap_or_else(|| vec![f64::NAN; x.len()]));
    let truth_ref: Option<TrueScore<'_>> = truth.as_ref().map(|f| f as TrueScore<'_>);
    Ok(model.evaluate(&raw, truth_ref, &config)?)
}

/// The human-readable report.
fn table(args: &EvalArgs, saved: &SavedModel, r: &EvalReport) -> String {
    let mut rows: Vec<(String, String)> = vec![
        (
            "checkpoint".into(),
            format!("{} ({})", args.checkpoint.display(), common::describe(saved)),
        ),
        ("data".into(), format!("{} ({} rows, {} columns)", args.data, r.n, r.dim)),
    ];
    let pm = |v: f64, e: f64| {
        if e.is_finite() { format!("{v:.6} ± {e:.2e}") } else { format!("{v:.6}") }
    };
    if let Some(h) = &r.heldout {
        rows.push((
            format!("held-out {}", h.objective),
            format!("{:.6} ({} rows; lower is better)", h.value, h.rows),
        ));
    }
    if let Some(l) = &r.log_likelihood {
        let method = serde_json::to_value(l.method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut text = if l.reliable {
            format!("{} per row ({method}", pm(l.mean_log_likelihood, l.std_err))
        } else {
            format!(
                "UNRELIABLE: {:.6} per row ({method} with an effective sample size of {:.1}, \
                 below {IS_MIN_ESS}",
                l.mean_log_likelihood,
                l.ess.unwrap_or(0.0)
            )
        };
        if let Some(z) = l.log_z {
            text.push_str(&format!(", log Z {z:.4}"));
        }
        text.push_str(", model coordinates)");
        rows.push(("log-likelihood".into(), text));
        if let Some(raw) = r.mean_log_likelihood_raw {
            rows.push((
                "log-likelihood (raw)".into(),
                format!(
                    "{}{raw:.6} per row (data coordinates)",
                    if l.reliable { "" } else { "UNRELIABLE: " }
                ),
            ));
        }
    }
    if let Some(f) = &r.fisher {
        rows.push((
            "Fisher divergence".into(),
            format!("{} (to the true score, model coordinates)", pm(f.value, f.std_err)),
        ));
    }
    if let Some(k) = &r.ksd {
        rows.push(("KSD²".into(), format!("{} ({} rows, IMQ kernel)", pm(k.ksd2, k.std_err), k.n)));
    }
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}
