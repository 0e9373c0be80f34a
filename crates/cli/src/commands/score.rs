//! `scorematch score`: per-row energy, log-density and score of data under a checkpoint, in
//! the data's own (raw) coordinates — e.g. to flag rows of low density as anomalies.
//!
//! With the saved standardisation z = (x − μ)/s: energy_raw = f(z) + Σ log sᵢ,
//! log p_raw(x) = log p(z) − Σ log sᵢ, score_raw = score(z)/s (see
//! `scorematch::data::Standardizer`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use scorematch::data::{Dataset, GaussianMixture};
use scorematch::eval::{density_grid, importance_log_z};
use scorematch::sample::{CompiledScore, ScoreFn};
use scorematch::saved::SavedModel;
use scorematch_graph::{DType, Element};

use super::common;
use crate::error::usage;
use crate::files::{
    HELD_OUT_STREAM, TableFormat, check_dim, load_data, save_table, table_format,
    to_model_coordinates,
};
use crate::progress::Verbosity;

/// Proposal scale of importance-sampled log Z (model coordinates).
const IS_PROPOSAL_STD: f64 = 1.5;
/// Proposal draws of importance-sampled log Z.
const IS_DRAWS: usize = 20_000;
/// Below this effective sample size the estimate is not used.
const IS_MIN_ESS: f64 = 100.0;

const EXAMPLES: &str = "\
Examples:
  scorematch score --checkpoint runs/x/checkpoint.safetensors --data new.csv --out scores.csv
  scorematch score --checkpoint model.safetensors --data x.npy --out scores.npy

Columns: energy (energy models), log_density (when the model is normalisable: exact for nice
and gaussian, via log Z on a grid for 1-D and 2-D energies; otherwise omitted with a note),
then score_0 … score_{D-1} = d log p / dx. All in the data's coordinates. A .npy output has
the columns in this order.";

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
}

/// Runs `scorematch score`.
pub fn run(args: &ScoreArgs, verbosity: Verbosity) -> Result<()> {
    let format = table_format(&args.out, "--out")?;
    let saved = common::open_checkpoint(&args.checkpoint, verbosity)?;
    let raw = load_data(&args.data, args.n_samples, args.seed ^ HELD_OUT_STREAM)?;
    check_dim(&raw, &saved, &format!("the data '{}'", args.data))?;
    let (table, notes) = match saved.dtype {
        DType::F32 => score_typed::<f32>(args, &saved, &raw)?,
        DType::F64 => score_typed::<f64>(args, &saved, &raw)?,
    };
    save_table(&args.out, &table)?;
    common::notes(verbosity, &notes);
    let columns = if format == TableFormat::Npy {
        format!(" (columns: {})", table.columns().join(", "))
    } else {
        String::new()
    };
    common::say(verbosity, &format!("wrote {} rows to {}{columns}", table.n(), args.out.display()));
    Ok(())
}

/// The output table for `raw` in precision `T`, and notes on omitted columns.
fn score_typed<T: Element>(
    args: &ScoreArgs,
    saved: &SavedModel,
    raw: &Dataset,
) -> Result<(Dataset, Vec<String>)> {
    let mut notes = Vec::new();
    let z = to_model_coordinates(raw, saved)?;
    let (n, d) = (z.n(), z.d());
    let model = saved.config.model();
    let params = saved.params_as::<T>();
    let mut field = CompiledScore::new(model, &params, n.clamp(1, 1024), args.threads)?;
    let sigma = if field.is_noise_conditional() {
        let s = args.sigma.or(common::training_ladder(saved).map(|l| l.0)).ok_or_else(|| {
            usage("this noise-conditional model needs --sigma (its checkpoint records no training ladder)")
        })?;
        if !(s > 0.0 && s.is_finite()) {
            return Err(usage(format!("--sigma must be a positive number, got {s}")));
        }
        notes.push(format!("scores of the noise-conditional model at σ = {s} (model coordinates)"));
        Some(s)
    } else {
        if args.sigma.is_some() {
            return Err(usage("--sigma applies to noise-conditional (ncsn-score) models only"));
        }
        None
    };
    let mut score = vec![0.0; n * d];
    field.score(z.data(), sigma, &mut score)?;
    let mut energy = field.has_energy().then(|| vec![0.0; n]);
    if let Some(e) = energy.as_mut() {
        field.energy(z.data(), e)?;
    }
    let log_density = if field.has_log_density() {
        let mut lp = vec![0.0; n];
        field.log_density(z.data(), &mut lp)?;
        Some(lp)
    } else if let (Some(e), true) = (energy.as_ref(), d <= 2) {
        let bounds = common::quadrature_box(d)?;
        let outside = common::rows_outside(&z, &bounds);
        if outside > 0 {
            notes.push(format!(
                "{outside} rows lie outside the box [-{h}, {h}]^{d} (model coordinates) over which \
                 the density is normalised; their log_density extrapolates the model far from \
                 its training data",
                h = common::QUADRATURE_HALF_WIDTH
            ));
        }
        let cells = common::quadrature_cells(d);
        let grid = density_grid(&mut field, &bounds, cells, if d == 1 { 1 } else { cells })?;
        if grid.edge_mass > scorematch::eval::EDGE_MASS_WARNING {
            notes.push(format!(
                "{:.2}% of the model's mass lies on the edge of the integration box, so log Z is \
                 underestimated and log_density too high",
                100.0 * grid.edge_mass
            ));
        }
        Some(e.iter().map(|f| -f - grid.log_z).collect())
    } else if let (Some(e), true) = (energy.as_ref(), saved.config.model().is_normalizable()) {
        // log Z by importance sampling from a fixed proposal N(0, 1.5²·I) in model
        // coordinates (where standardised data has unit scale), with a fixed seed: the
        // estimate depends on the model only, never on the rows being scored.
        let proposal = GaussianMixture::gaussian(
            vec![0.0; d],
            (0..d * d)
                .map(|i| if i / d == i % d { IS_PROPOSAL_STD.powi(2) } else { 0.0 })
                .collect(),
        )?;
        let est = importance_log_z(&mut field, &proposal, IS_DRAWS, 0)?;
        if est.ess < IS_MIN_ESS {
            notes.push(format!(
                "log_density omitted: importance sampling of log Z is unreliable for this model \
                 (effective sample size {:.0} of {IS_DRAWS})",
                est.ess
            ));
            None
        } else {
            notes.push(format!(
                "log_density normalised by importance sampling: log Z = {:.4} ± {:.4} \
                 (effective sample size {:.0} of {IS_DRAWS})",
                est.log_z, est.std_err, est.ess
            ));
            Some(e.iter().map(|f| -f - est.log_z).collect())
        }
    } else if energy.is_some() {
        notes.push(format!(
            "log_density omitted: this {d}-D energy has no base term, so exp(−f) need not be \
             integrable (train with --base-sigma), and it is beyond grid quadrature (≤ 2-D)"
        ));
        None
    } else {
        notes.push(format!(
            "energy and log_density omitted: a score network ({}) defines no density",
            saved.config.kind_name()
        ));
        None
    };
    let mut columns = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    if let Some(s) = &saved.standardizer {
        s.score_to_raw_in_place(&mut score)?;
        if let Some(e) = energy.as_mut() {
            e.iter_mut().for_each(|v| *v = s.energy_to_raw(*v));
        }
    }
    if let Some(e) = energy {
        columns.push("energy".to_string());
        cols.push(e);
    }
    if let Some(mut lp) = log_density {
        if let Some(s) = &saved.standardizer {
            lp.iter_mut().for_each(|v| *v = s.log_density_to_raw(*v));
        }
        columns.push("log_density".to_string());
        cols.push(lp);
    }
    for j in 0..d {
        columns.push(format!("score_{j}"));
        cols.push(score.iter().skip(j).step_by(d).copied().collect());
    }
    let width = cols.len();
    let data: Vec<f64> = (0..n).flat_map(|i| cols.iter().map(move |c| c[i])).collect();
    Ok((Dataset::new(n, width, data, columns)?, notes))
}
