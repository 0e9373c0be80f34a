//! `scorematch sample`: draw samples from a checkpoint and write them (raw coordinates).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use scorematch::config::{FigureSection, SampleSection};
use scorematch::data::{Dataset, default_columns};
use scorematch::handle::ModelHandle;
use scorematch::rng::Stream;
use scorematch::sample::{Ladder, SamplerConfig, SamplerKind};
use scorematch::saved::SavedModel;

use super::common;
use crate::columns::ColumnFlags;
use crate::error::usage;
use crate::figures::{ModelView, corner_plot, samples_title};
use crate::files::{TABLE_EXTENSIONS, check_output, save_table};
use crate::plot::{Extent, image_grids, points_from_rows, samples_vs_data, scatter};
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch sample --checkpoint runs/x/checkpoint.safetensors --out samples.csv --plot samples.png
  scorematch sample --checkpoint wine.safetensors --out s.csv --plot s.png --data wine.csv
  scorematch sample --checkpoint digits.safetensors --out s.csv --plot s.png --data digits.csv --image-shape 8x8
  scorematch sample --checkpoint model.safetensors --sampler mala --n 5000 --step-size 0.01 --out s.npy
  scorematch sample --checkpoint ncsn.safetensors --sampler annealed --steps 200 --out s.csv

Step sizes are in the model's (standardised) coordinates. The default sampler is annealed
Langevin for ncsn-score checkpoints (on the sigma ladder they were trained with) and
unadjusted Langevin otherwise; MALA needs an energy model.

Samples are written in the data's space: mapped back through the run's standardisation and
any --logit transform (so they stay in its box). With --dequantize they are samples of the
dequantised data: continuous values, each near the centre of a grid cell.";

/// Flags of `scorematch sample`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct SampleArgs {
    /// The checkpoint to sample from.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Where to write the samples: .csv (header: the names of the columns the model was
    /// trained on, else x0,x1,…) or .npy.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also draw the samples to this PNG: for 2-D models a scatter plot (beside the data
    /// with --data), otherwise a corner plot (over the data with --data); with
    /// --image-shape, also the grid of images to PNG's name with `-images` added.
    #[arg(long, value_name = "PNG")]
    pub plot: Option<PathBuf>,
    /// Data to draw the samples against in --plot: a built-in dataset name (as many rows
    /// as --n), a .csv file (header row) or .npy file, in raw coordinates.
    #[arg(long, value_name = "NAME|FILE", requires = "plot")]
    pub data: Option<String>,
    /// Sampler [default: annealed for ncsn-score, else langevin].
    #[arg(long = "sampler", value_enum)]
    pub kind: Option<SamplerKind>,
    /// Number of samples (chains run in parallel).
    #[arg(long = "n", value_name = "N", default_value_t = SampleSection::default().n)]
    pub n_chains: usize,
    /// Steps (per noise level for annealed) [default: 500; annealed 100].
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Step size ε [default: 0.002; annealed 2e-5, the step at the smallest σ].
    #[arg(long, value_name = "EPS")]
    pub step_size: Option<f64>,
    /// Decay the step size geometrically to this value over the run (langevin, mala).
    #[arg(long, value_name = "EPS")]
    pub step_size_final: Option<f64>,
    /// Standard deviation of the Gaussian starting points [default: 1; annealed: σ_max].
    #[arg(long, value_name = "S")]
    pub init_std: Option<f64>,
    /// Temperature τ scaling the injected noise (langevin, annealed).
    #[arg(long, value_name = "T", default_value_t = SamplerConfig::default().noise_scale)]
    pub noise_scale: f64,
    /// Smallest σ of annealed Langevin [default: the checkpoint's ms-dsm ladder].
    #[arg(long, value_name = "S")]
    pub sigma_min: Option<f64>,
    /// Largest σ of annealed Langevin [default: the checkpoint's ms-dsm ladder].
    #[arg(long, value_name = "S")]
    pub sigma_max: Option<f64>,
    /// Noise levels of annealed Langevin [default: the checkpoint's ms-dsm ladder].
    #[arg(long, value_name = "L")]
    pub levels: Option<usize>,
    /// Skip annealed Langevin's final denoising step.
    #[arg(long)]
    pub no_denoise: bool,
    /// Seed of the starting points and the noise.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = common::parse_threads)]
    pub threads: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overwrite: common::Overwrite,
    // Last: their help headings would otherwise carry over to the flags after them.
    /// The data's columns to use.
    #[command(flatten)]
    pub columns: ColumnFlags,
    /// What --plot shows of data with more than two columns.
    #[command(flatten)]
    pub figures: FigureSection,
}

/// Runs `scorematch sample`.
pub fn run(args: &SampleArgs, verbosity: Verbosity) -> Result<()> {
    let inputs = [args.checkpoint.as_path()];
    let force = args.overwrite.force;
    check_output(&args.out, "--out", TABLE_EXTENSIONS, &inputs, force)?;
    match &args.plot {
        Some(plot) => {
            check_output(plot, "--plot", &["png"], &inputs, force)?;
            if args.figures.image_shape.is_some() {
                check_output(&images_path(plot), "--plot", &["png"], &inputs, force)?;
            }
        }
        None if args.figures != FigureSection::default() => {
            return Err(usage(
                "--plot-columns and --image-shape say what --plot draws: add --plot FILE.png",
            ));
        }
        None => {}
    }
    if args.data.is_none() && args.columns.is_set() {
        return Err(usage(
            "--columns, --drop-columns and --ignore-column-names choose the columns of --data: \
             add --data FILE (the data to draw the samples over)",
        ));
    }
    let saved = common::open_checkpoint(&args.checkpoint, verbosity)?;
    let dim = saved.config.model().dim();
    let names = saved.columns.clone().unwrap_or_else(|| default_columns(dim));
    args.figures.check_columns(&names)?;
    let reference = match &args.data {
        Some(spec) => {
            Some(args.columns.load(&saved, spec, args.n_chains, Stream::Data.seed(args.seed))?)
        }
        None => None,
    };
    let config = sampler_config(args, &saved)?;
    sample(args, &saved, &config, reference.as_ref(), verbosity)
}

/// Where `sample --plot PNG --image-shape HxW` draws the image grid: `PNG-images.png`.
fn images_path(plot: &Path) -> PathBuf {
    let stem = plot.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    plot.with_file_name(format!("{stem}-images.png"))
}

/// The sampler settings from the flags and the checkpoint.
fn sampler_config(args: &SampleArgs, saved: &SavedModel) -> Result<SamplerConfig> {
    let conditional = saved.config.model().is_noise_conditional();
    let kind = args.kind.unwrap_or(if conditional {
        SamplerKind::Annealed
    } else {
        SamplerKind::Langevin
    });
    let annealed = kind == SamplerKind::Annealed;
    let usual = SampleSection::default();
    let mut c = SamplerConfig {
        kind,
        n_chains: args.n_chains,
        seed: args.seed,
        threads: args.threads,
        noise_scale: args.noise_scale,
        step_size_final: args.step_size_final,
        denoise: !args.no_denoise,
        steps: args.steps.unwrap_or(usual.steps(annealed)),
        step_size: args.step_size.unwrap_or(usual.step_size(annealed)),
        ..SamplerConfig::default()
    };
    if annealed {
        let trained = saved.training_ladder().unwrap_or_default();
        c.ladder = Ladder {
            sigma_min: args.sigma_min.unwrap_or(trained.sigma_min),
            sigma_max: args.sigma_max.unwrap_or(trained.sigma_max),
            levels: args.levels.unwrap_or(trained.levels),
        };
        c.init_std = args.init_std.unwrap_or(c.ladder.sigma_max);
    } else {
        if args.sigma_min.is_some() || args.sigma_max.is_some() || args.levels.is_some() {
            return Err(usage(
                "--sigma-min, --sigma-max and --levels apply to --sampler annealed only",
            ));
        }
        c.init_std = args.init_std.unwrap_or(SamplerConfig::default().init_std);
    }
    c.validate()?;
    Ok(c)
}

/// Samples the checkpoint's model and writes the results, drawn against `reference`
/// (raw coordinates) when given.
fn sample(
    args: &SampleArgs,
    saved: &SavedModel,
    config: &SamplerConfig,
    reference: Option<&Dataset>,
    verbosity: Verbosity,
) -> Result<()> {
    let model = ModelHandle::from_saved(saved);
    let view = ModelView { model: &model, sigma: None, threads: config.threads };
    let started = std::time::Instant::now();
    let (samples, rate) = view.samples(config)?;
    let dim = saved.config.model().dim();
    let n = samples.len() / dim;
    let data = match &saved.columns {
        Some(names) => Dataset::new(n, dim, samples, names.clone())?,
        None => Dataset::from_flat(n, dim, samples)?,
    };
    save_table(&args.out, &data)?;
    let mut line = format!(
        "wrote {} samples ({} steps of {}) to {} in {:.1} s",
        data.n(),
        config.total_steps(),
        config.kind.name(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(r) = rate {
        line.push_str(&format!("; MALA acceptance rate {r:.3}"));
        if r < 0.2 {
            line.push_str(" (low: lower --step-size)");
        }
    }
    common::say(verbosity, &line);
    if let Some(png) = &args.plot {
        let from = format!("from {}", saved.config.kind_name());
        let against = |how: &str| match reference {
            Some(_) => samples_title(config, rate, &format!("{from} {how} data")),
            None => samples_title(config, rate, &from),
        };
        let title = against(if dim == 2 { "vs" } else { "over" });
        if dim == 2 {
            let points = points_from_rows(data.data(), 2)?;
            match reference {
                Some(r) => {
                    let shown = points_from_rows(r.data(), 2)?;
                    let extent = Extent::covering(&[&shown], 0.08);
                    samples_vs_data(png, &points, &shown, &extent, &title)?;
                }
                None => scatter(png, &points, &Extent::covering(&[&points], 0.05), &title)?,
            }
        } else {
            corner_plot(png, &data, reference, &args.figures, &title)?;
        }
        common::say(verbosity, &format!("wrote {}", png.display()));
        if let Some(shape) = args.figures.image_shape {
            let grid = images_path(png);
            let shape = (shape.height, shape.width);
            let reference = reference.map_or(&[][..], Dataset::data);
            image_grids(&grid, shape, data.data(), reference, &against("beside"))?;
            common::say(verbosity, &format!("wrote {}", grid.display()));
        }
    }
    Ok(())
}
