//! `scorematch score`: per-row energy, log-density and score of data under a checkpoint, in
//! the data's own (raw) coordinates — e.g. to flag rows of low density as anomalies.
//!
//! With the saved transform y = T(x) (identity, or a logit map) and standardisation
//! z = (y − μ)/s: energy_raw = f(z) + Σ log sᵢ − Σ log|dyᵢ/dxᵢ|, log p_raw(x) = log p(z) −
//! Σ log sᵢ + Σ log|dyᵢ/dxᵢ|, score_raw = ∇ₓ log p_raw — computed by the checkpoint's
//! `scorematch::handle::ModelHandle`; how log p is normalised (and when it is
//! omitted) is `scorematch::eval::row_log_density`'s strategy, worded here.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use scorematch::data::Dataset;
use scorematch::eval::RowDensityNote;
use scorematch::handle::ModelHandle;
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;

use super::common;
use crate::columns::ColumnFlags;
use crate::error::usage;
use crate::files::{TABLE_EXTENSIONS, TableFormat, check_output, save_table, table_format};
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch score --checkpoint runs/x/checkpoint.safetensors --data new.csv --out scores.csv
  scorematch score --checkpoint model.safetensors --data x.npy --out scores.npy

Columns: energy (energy models), log_density (when the model is normalisable: exact for nice
and gaussian, via log Z on a grid for 1-D and 2-D energies; otherwise omitted with a note),
then score_<column> = d log p / d<column> for each of the data's columns (score_x0,
score_x1, … for data without names, such as .npy). A .npy output has the columns in this
order.

Space: every column is in the data's own space, for the rows as given — not in the
standardised coordinates the model is fitted in. log_density = log p(x) includes the
standardisation's Jacobian (−Σ log s) and, with --logit, the transform's (+Σ log|dy/dx|);
energy = −log p(x) up to the model's normalising constant, with the same terms (so an
energy computed from the checkpoint by hand must add Σ log s; see the README). With
--dequantize, p is the density of the dequantised data (each grid value the centre of its
cell), not the probability of the discrete value. Under --logit, a row outside the range
the model was fitted on has density zero: energy inf, log_density -inf, score NaN.";

/// Flags of `scorematch score`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ScoreArgs {
    /// The checkpoint.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Rows to score: .csv file (header row), .npy file, or a built-in dataset name.
    #[arg(long, value_name = "FILE|NAME")]
    pub data: String,
    /// Where to write the table: .csv or .npy.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Samples to draw when --data is a built-in dataset.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub n_samples: usize,
    /// Seed of built-in data.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Noise level at which to evaluate an ncsn-score model [default: its smallest σ].
    #[arg(long, value_name = "S")]
    pub sigma: Option<f64>,
    /// Worker threads.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = common::parse_threads)]
    pub threads: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overwrite: common::Overwrite,
    /// The data's columns to use.
    #[command(flatten)]
    pub columns: ColumnFlags,
}

/// Runs `scorematch score`.
pub fn run(args: &ScoreArgs, verbosity: Verbosity) -> Result<()> {
    let inputs = [args.checkpoint.as_path(), Path::new(&args.data)];
    check_output(&args.out, "--out", TABLE_EXTENSIONS, &inputs, args.overwrite.force)?;
    let format = table_format(&args.out, "--out")?;
    let saved = common::open_checkpoint(&args.checkpoint, verbosity)?;
    let raw =
        args.columns.load(&saved, &args.data, args.n_samples, Stream::HeldOut.seed(args.seed))?;
    let model = ModelHandle::from_saved(&saved);
    let sigma = sigma(args, &saved)?;
    let (table, notes) = table(args, &model, sigma, &raw)?;
    save_table(&args.out, &table)?;
    common::notes(verbosity, &notes);
    let columns = if format == TableFormat::Npy {
        format!(" (columns: {})", table.columns().join(", "))
    } else {
        String::new()
    };
    common::say(
        verbosity,
        &format!(
            "wrote {} rows to {}{columns}; energy and log_density in the data's space (see \
             --help)",
            table.n(),
            args.out.display()
        ),
    );
    Ok(())
}

/// The noise level at which to score: `--sigma`, or the smallest σ a noise-conditional
/// model was trained at; none for the other models.
fn sigma(args: &ScoreArgs, saved: &SavedModel) -> Result<Option<f64>> {
    if !saved.config.model().is_noise_conditional() {
        if args.sigma.is_some() {
            return Err(usage("--sigma applies to noise-conditional (ncsn-score) models only"));
        }
        return Ok(None);
    }
    let s = args.sigma.or(saved.training_ladder().map(|l| l.sigma_min)).ok_or_else(|| {
        usage("this noise-conditional model needs --sigma (its checkpoint records no training ladder)")
    })?;
    if !(s > 0.0 && s.is_finite()) {
        return Err(usage(format!("--sigma must be a positive number, got {s}")));
    }
    Ok(Some(s))
}

/// The output table for `raw` (energy, log_density where they exist, then the score), and
/// notes on the σ used and on omitted or doubtful columns.
fn table(
    args: &ScoreArgs,
    model: &ModelHandle,
    sigma: Option<f64>,
    raw: &Dataset,
) -> Result<(Dataset, Vec<String>)> {
    let mut notes = Vec::new();
    if let Some(s) = sigma {
        notes.push(format!("scores of the noise-conditional model at σ = {s} (model coordinates)"));
    }
    let outside = model.transform().map_or(0, |t| t.outside_rows(raw).len());
    if outside > 0 {
        notes.push(format!(
            "{outside} rows lie outside the range of the model's logit transform (its training \
             data's, slightly widened), where its density is zero: energy inf, log_density \
             -inf, score NaN"
        ));
    }
    let (n, d) = (raw.n(), raw.d());
    let score = model.score(raw, sigma, args.threads)?;
    let energy = model.model().has_energy().then(|| model.energy(raw, args.threads)).transpose()?;
    let log_density = model.log_density(raw, args.threads)?;
    let kind = model.config().kind_name();
    notes.extend(log_density.notes.iter().map(|note| word(note, kind)));
    let mut columns = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    if let Some(e) = energy {
        columns.push("energy".to_string());
        cols.push(e);
    }
    if let Some(lp) = log_density.values {
        columns.push("log_density".to_string());
        cols.push(lp);
    }
    for (j, name) in raw.columns().iter().enumerate() {
        columns.push(format!("score_{name}"));
        cols.push(score.iter().skip(j).step_by(d).copied().collect());
    }
    let width = cols.len();
    let data: Vec<f64> = (0..n).flat_map(|i| cols.iter().map(move |c| c[i])).collect();
    Ok((Dataset::new(n, width, data, columns)?, notes))
}

/// A note on the log_density column in the words of this command (`kind`: the model's).
fn word(note: &RowDensityNote, kind: &str) -> String {
    match note {
        RowDensityNote::RowsOutsideBox { rows, half_width: h, dim: d } => format!(
            "{rows} rows lie outside the box [-{h}, {h}]^{d} (model coordinates) over which the \
             density is normalised; their log_density extrapolates the model far from its \
             training data"
        ),
        RowDensityNote::EdgeMass { fraction } => format!(
            "{:.2}% of the model's mass lies on the edge of the integration box, so log Z is \
             underestimated and log_density too high",
            100.0 * fraction
        ),
        RowDensityNote::ImportanceSampled(est) => format!(
            "log_density normalised by importance sampling: log Z = {:.4} ± {:.4} (effective \
             sample size {:.0} of {})",
            est.log_z, est.std_err, est.ess, est.n
        ),
        RowDensityNote::UnreliableImportanceSampling(est) => format!(
            "log_density omitted: importance sampling of log Z is unreliable for this model \
             (effective sample size {:.0} of {})",
            est.ess, est.n
        ),
        RowDensityNote::NotNormalizable { dim } => format!(
            "log_density omitted: this {dim}-D energy has no base term, so exp(−f) need not be \
             integrable (train with --base-sigma), and it is beyond grid quadrature (≤ 2-D)"
        ),
        RowDensityNote::NoDensity => {
            format!("energy and log_density omitted: a score network ({kind}) defines no density")
        }
    }
}
