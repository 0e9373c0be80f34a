//! `scorematch init`: a freshly initialised checkpoint, with no training and no data
//! normalisation (the model sees data exactly as given) — a starting point for other
//! tools, or a vessel for weights converted from elsewhere.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use scorematch::config::{ModelSection, RunConfig, parse_base_sigma, parse_dtype};
use scorematch::handle::ModelHandle;
use scorematch::model::{Activation, ModelKind};
use scorematch::rng::Stream;
use scorematch_graph::DType;

use super::common;
use crate::files::check_output;
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch init --input-dim 3 --hidden 8,8 --activation tanh --dtype f64 --out model.safetensors
  scorematch init --model nice --input-dim 4 --couplings 6 --out flow.safetensors

Parameters follow PyTorch's nn.Linear initialisation, seeded by --seed; tensors are named
layers.{i}.weight [out, in] and layers.{i}.bias [out]. Unlike `train`, the mlp-energy has no
Gaussian base term unless --base-sigma is given.";

/// Flags of `scorematch init`. Defaults are the library's ([`ModelSection::default`],
/// [`RunConfig::default`]), but for the base term: none unless asked for.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct InitArgs {
    /// Model family.
    #[arg(long, value_enum, default_value_t = ModelSection::default().kind)]
    pub model: ModelKind,
    /// Data dimension D.
    #[arg(long = "input-dim", value_name = "D")]
    pub dim: usize,
    /// Hidden widths, comma-separated.
    #[arg(
        long,
        value_name = "H1,H2,…",
        value_delimiter = ',',
        default_values_t = ModelSection::default().hidden
    )]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[arg(long, value_enum, default_value_t = ModelSection::default().activation)]
    pub activation: Activation,
    /// mlp-energy's Gaussian base term scale σ₀ [default: none].
    #[arg(long, value_name = "S|none", value_parser = parse_base_sigma)]
    pub base_sigma: Option<f64>,
    /// Coupling layers of a nice flow.
    #[arg(long, value_name = "K", default_value_t = ModelSection::default().couplings)]
    pub couplings: usize,
    /// Precision of the stored parameters.
    #[arg(
        long,
        value_name = "f32|f64",
        value_parser = parse_dtype,
        default_value_t = RunConfig::default().dtype
    )]
    pub dtype: DType,
    /// Seed of the initialisation (the same draw as `train --seed`'s).
    #[arg(long, value_name = "S", default_value_t = RunConfig::default().seed)]
    pub seed: u64,
    /// The checkpoint to write (.safetensors).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overwrite: common::Overwrite,
}

/// Runs `scorematch init`.
pub fn run(args: &InitArgs, verbosity: Verbosity) -> Result<()> {
    check_output(&args.out, "--out", &["safetensors"], &[], args.overwrite.force)?;
    let model = ModelSection {
        kind: args.model,
        hidden: args.hidden.clone(),
        activation: args.activation,
        base_sigma: args.base_sigma.unwrap_or(f64::INFINITY),
        couplings: args.couplings,
        // dkef at its defaults; without data its inducing points stay at their random draw.
        ..ModelSection::default()
    };
    let config =
        RunConfig { model, dtype: args.dtype, ..RunConfig::default() }.model_config(args.dim)?;
    let saved = ModelHandle::init(config, args.dtype, &mut Stream::Init.rng(args.seed)).to_saved();
    saved.save(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    common::say(verbosity, &format!("wrote {} ({})", args.out.display(), common::describe(&saved)));
    Ok(())
}
