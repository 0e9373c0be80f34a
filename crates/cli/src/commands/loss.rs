//! `scorematch loss`: one objective on data exactly as given — no standardisation, the
//! projections and noise as given — and optionally its gradient in every parameter. For
//! checking the toolkit against other implementations (the PyTorch/JAX fixtures).
//!
//! Row b of `--projections` is v_b (M·B rows for M projections per sample, copy k in rows
//! k·B … (k+1)·B − 1); row b of `--noise` is z_b. Draws not given come from `--seed`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use serde_json::json;

use scorematch::checkpoint::Checkpoint;
use scorematch::config::{ObjectiveSection, parse_dtype};
use scorematch::data::Dataset;
use scorematch::handle::{Draw, ModelHandle};
use scorematch::objective::{Objective, ObjectiveKind, Projection};
use scorematch::rng::Stream;
use scorematch_graph::DType;

use super::common;
use crate::columns::ColumnFlags;
use crate::error::usage;
use crate::files::check_output;
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch loss --checkpoint m.safetensors --data x.npy --objective ssm --projections v.npy --json
  scorematch loss --checkpoint m.safetensors --data x.npy --objective dsm --noise z.npy --sigma 0.1 \\
      --dtype f64 --grad-out grads.safetensors --json
  scorematch loss --checkpoint m.safetensors --data x.csv --objective esm

Prints {\"objective\": …, \"loss\": …, \"n\": …} with --json. With --grad-out, writes d loss / d θ
for every parameter under the parameter's own name (safetensors).";

/// The objectives `loss` evaluates: those of the PyTorch/JAX reference fixtures, whose
/// random inputs can be given as files.
const LOSS_OBJECTIVES: [ObjectiveKind; 4] =
    [ObjectiveKind::Esm, ObjectiveKind::Ssm, ObjectiveKind::SsmVr, ObjectiveKind::Dsm];

/// Parses `--objective`: one of [`LOSS_OBJECTIVES`], by the library's names (clap lists
/// them in the help and in errors).
fn loss_objective() -> impl TypedValueParser<Value = ObjectiveKind> {
    PossibleValuesParser::new(LOSS_OBJECTIVES.iter().filter_map(ValueEnum::to_possible_value))
        .try_map(|name| name.parse::<ObjectiveKind>())
}

/// Flags of `scorematch loss`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct LossArgs {
    /// The checkpoint (its standardisation, if any, is not applied).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The batch: .npy or .csv file (or a built-in dataset name), used as given.
    #[arg(long, value_name = "FILE")]
    pub data: String,
    /// The objective.
    #[arg(long, value_parser = loss_objective())]
    pub objective: ObjectiveKind,
    /// Projection vectors of ssm / ssm-vr (.npy or .csv), one row per sample.
    #[arg(long, value_name = "FILE")]
    pub projections: Option<String>,
    /// Noise z of dsm (.npy or .csv), one row per sample.
    #[arg(long, value_name = "FILE")]
    pub noise: Option<String>,
    /// Noise level σ of dsm.
    #[arg(long, value_name = "S")]
    pub sigma: Option<f64>,
    /// Projections per sample when --projections is not given.
    #[arg(long, value_name = "M")]
    pub n_projections: Option<usize>,
    /// Distribution of drawn projections.
    #[arg(long, value_enum, default_value = "gaussian")]
    pub projection: Projection,
    /// Precision [default: the checkpoint's].
    #[arg(long, value_name = "f32|f64", value_parser = parse_dtype)]
    pub dtype: Option<DType>,
    /// Seed of projections or noise that are not given (and of built-in data).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Samples to draw when --data is a built-in dataset.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub n_samples: usize,
    /// Write the gradient of the loss in every parameter to this safetensors file.
    #[arg(long, value_name = "FILE")]
    pub grad_out: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
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

/// The objective and its given draw (row-major), checked against the batch.
struct Setup {
    objective: Objective,
    draw: Option<Vec<f64>>,
}

/// Runs `scorematch loss`.
pub fn run(args: &LossArgs, verbosity: Verbosity) -> Result<()> {
    if let Some(path) = &args.grad_out {
        let mut inputs = vec![args.checkpoint.as_path(), Path::new(&args.data)];
        inputs.extend([&args.projections, &args.noise].into_iter().flatten().map(Path::new));
        check_output(path, "--grad-out", &["safetensors"], &inputs, args.overwrite.force)?;
    }
    let saved = common::open_checkpoint(&args.checkpoint, verbosity)?;
    let data =
        args.columns.load(&saved, &args.data, args.n_samples, Stream::Data.seed(args.seed))?;
    let setup = setup(args, &data)?;
    let dtype = args.dtype.unwrap_or(saved.dtype);
    let model = ModelHandle::from_saved_as(&saved, dtype);
    let loss = loss(args, &model, &data, &setup)?;
    let name = setup.objective.name();
    if args.json {
        crate::output::out_line(
            &json!({ "objective": name, "loss": loss, "n": data.n() }).to_string(),
        )?;
    } else {
        crate::output::out_line(&format!("{name} loss {loss} over {} rows ({dtype})", data.n()))?;
    }
    Ok(())
}

/// Loads a draw file and checks that it has `dim` columns.
fn load_draw(spec: &str, flag: &str, dim: usize) -> Result<Dataset> {
    let d = scorematch::data::load_any(spec, 0, 0)
        .with_context(|| format!("cannot load {flag} '{spec}'"))?;
    if d.d() != dim {
        return Err(usage(format!("{flag} {spec} has {} columns, the data {dim}", d.d())));
    }
    Ok(d)
}

/// The objective from the flags, with the given projections or noise.
fn setup(args: &LossArgs, data: &Dataset) -> Result<Setup> {
    let (b, d) = (data.n(), data.d());
    let sliced = args.objective.is_sliced();
    if args.projections.is_some() && !sliced {
        return Err(usage("--projections applies to --objective ssm and ssm-vr only"));
    }
    if args.n_projections.is_some() && !sliced {
        return Err(usage("--n-projections applies to --objective ssm and ssm-vr only"));
    }
    if args.objective != ObjectiveKind::Dsm && (args.noise.is_some() || args.sigma.is_some()) {
        return Err(usage("--noise and --sigma apply to --objective dsm only"));
    }
    let projection = args.projection;
    Ok(match args.objective {
        ObjectiveKind::Ssm | ObjectiveKind::SsmVr => {
            let (n_projections, draw) = match &args.projections {
                Some(spec) => {
                    let v = load_draw(spec, "--projections", d)?;
                    if v.n() % b != 0 {
                        return Err(usage(format!(
                            "--projections {spec} has {} rows: it needs M × {b} (M projections for each of the {b} data rows)",
                            v.n()
                        )));
                    }
                    let m = v.n() / b;
                    if args.n_projections.is_some_and(|n| n != m) {
                        return Err(usage(format!(
                            "--n-projections {} disagrees with --projections {spec} ({m} per row)",
                            args.n_projections.unwrap_or(m)
                        )));
                    }
                    (m, Some(v.into_data()))
                }
                None => {
                    (args.n_projections.unwrap_or(ObjectiveSection::default().n_projections), None)
                }
            };
            let objective = if args.objective == ObjectiveKind::Ssm {
                Objective::Ssm { projection, n_projections }
            } else {
                Objective::SsmVr { projection, n_projections }
            };
            Setup { objective, draw }
        }
        ObjectiveKind::Dsm => {
            let sigma = args.sigma.unwrap_or(ObjectiveSection::default().sigma);
            let draw = match &args.noise {
                Some(spec) => {
                    let z = load_draw(spec, "--noise", d)?;
                    if z.n() != b {
                        return Err(usage(format!(
                            "--noise {spec} has {} rows, the data {b}",
                            z.n()
                        )));
                    }
                    Some(z.into_data())
                }
                None => None,
            };
            Setup { objective: Objective::Dsm { sigma }, draw }
        }
        ObjectiveKind::Esm => Setup { objective: Objective::Esm { chunk: None }, draw: None },
        other => return Err(usage(format!("`loss` does not evaluate {other}"))),
    })
}

/// Evaluates the loss (and writes the gradient) at the model's precision.
fn loss(args: &LossArgs, model: &ModelHandle, data: &Dataset, setup: &Setup) -> Result<f64> {
    let draw = match &setup.draw {
        Some(values) => Draw::Given(values),
        None => Draw::Seeded(args.seed),
    };
    let report = model.loss(&setup.objective, data, draw, args.grad_out.is_some(), args.threads)?;
    if let Some(path) = &args.grad_out {
        let grads = report.gradients.context("the loss was computed without gradients")?;
        let mut ck = Checkpoint::new(model.dtype());
        for (spec, g) in model.model().param_specs().into_iter().zip(grads) {
            ck.push(spec.name, spec.shape, g)?;
        }
        ck.metadata.insert("objective".into(), setup.objective.name().into());
        ck.metadata.insert("loss".into(), report.value.to_string());
        ck.save(path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report.value)
}
