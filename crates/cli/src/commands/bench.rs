//! `scorematch bench`: the anchors' grid, or one cell, timed ([`scorematch::bench`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use scorematch::bench::{Cell, GRID, InstrProfile, Measurement, gemm_peak};
use scorematch::objective::ObjectiveKind;

use super::common;
use crate::error::usage;
use crate::output;
use crate::plot::curves;
use crate::progress::Verbosity;

const EXAMPLES: &str = "\
Examples:
  scorematch bench                                  # the grid G1-G4, 1 thread
  scorematch bench --filter G2/ssm --threads 1,2
  scorematch bench --config 64,512,3,128 --objective dsm --threads 2 --steps 100
  scorematch bench --filter G1 --json
  scorematch bench --config 2,256,2,128 --config 32,256,2,128 --objective esm,ssm --plot d.png

A step is what the PyTorch and JAX anchor scripts time (shared/bench): draw v or z, the loss,
its gradient in every parameter and an Adam update, in f32, for a softplus MLP energy with L
hidden layers of width H on B rows of dimension D. ms/step is the median of blocks of 5 steps
after a warm-up; compile time is reported apart. The GEMM peak (a 512³ f32 product, best of 15
blocks) is measured by the command itself; % peak is against threads × that peak. The grid
times esm on G1 and G2 only (its cost grows with D: a forward Laplacian over all D input
directions per row, in chunks of --esm-chunk); name it to time it on another cell.";

/// Flags of `scorematch bench`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BenchArgs {
    /// A configuration D,H,L,B (data dimension, hidden width, hidden layers, batch)
    /// instead of the grid; repeat the flag for several.
    #[arg(long, value_name = "D,H,L,B", value_parser = parse_config, conflicts_with = "filter")]
    pub config: Vec<[usize; 4]>,
    /// Grid cells to time: a grid name (G1…G4), an objective, or both as G2/ssm.
    #[arg(long, value_name = "CELLS")]
    pub filter: Option<String>,
    /// Objectives to time [default: ssm, ssm-vr, dsm, and esm on G1 and G2].
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub objective: Vec<ObjectiveKind>,
    /// Thread counts to time each cell with.
    #[arg(long, value_name = "T", value_delimiter = ',', default_value = "1", value_parser = common::parse_threads)]
    pub threads: Vec<usize>,
    /// Exact SM's input directions per chunk [default: as many as fit in 64 MiB of tangents].
    #[arg(long, value_name = "C")]
    pub esm_chunk: Option<usize>,
    /// Timed steps per cell (rounded up to whole blocks of 5).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub steps: usize,
    /// Instead of timing, profile each cell's program over N runs: the time per kernel
    /// kind and the slowest instructions (a product's shape, GFLOP/s).
    #[arg(long, value_name = "N", conflicts_with_all = ["json", "plot"])]
    pub profile: Option<usize>,
    /// Print the measurements as a JSON list on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also draw the time per step against D (both axes logarithmic), one line per
    /// objective and thread count, into this PNG.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
}

/// Runs `scorematch bench`.
pub fn run(args: &BenchArgs, verbosity: Verbosity) -> Result<()> {
    let cells = cells(args)?;
    if let Some(runs) = args.profile {
        for (name, cell) in cells {
            output::out_line(&profile_report(&name, &cell, &cell.profile(runs.max(1))?))?;
        }
        return Ok(());
    }
    let peak = gemm_peak(1)?;
    common::say(
        verbosity,
        &format!("GEMM peak (512³ f32 through a compiled program, 1 thread): {peak:.1} GFLOP/s"),
    );
    let mut rows = Vec::with_capacity(cells.len());
    for (name, cell) in cells {
        common::detail(
            verbosity,
            &format!("timing {name} {} on {} thread(s)", cell.objective, cell.threads),
        );
        let m = cell.measure(args.steps, peak)?;
        if !args.json {
            if rows.is_empty() {
                output::out_line(HEADER)?;
            }
            output::out_line(&row(&name, &m))?;
        }
        rows.push(m);
    }
    if args.json {
        output::out_line(&serde_json::to_string_pretty(&rows)?)?;
    }
    if let Some(path) = &args.plot {
        plot_against_dim(path, &rows)?;
    }
    Ok(())
}

/// The time per step against D as log₂ D, log₁₀ ms: one series per objective and thread
/// count, in the order first measured.
fn plot_against_dim(path: &std::path::Path, rows: &[Measurement]) -> Result<()> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for m in rows {
        let name = format!("{}, {} thread(s)", m.cell.objective, m.cell.threads);
        let point = ((m.cell.dim as f64).log2(), m.ms_per_step.log10());
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, points)) => points.push(point),
            None => series.push((name, vec![point])),
        }
    }
    let named: Vec<(&str, &[(f64, f64)])> =
        series.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    curves(path, &named, "time per step against D", "log₂ D", "log₁₀ ms/step")
}

/// Instructions listed by name in a profile, slowest first.
const PROFILE_TOP: usize = 60;

/// A cell's profile: the time per kernel kind, then the slowest instructions.
fn profile_report(name: &str, cell: &Cell, profile: &[InstrProfile]) -> String {
    let total: f64 = profile.iter().map(|p| p.seconds).sum();
    let share = |s: f64| 100.0 * s / total;
    let gflops = |flops: u64, s: f64| flops as f64 / s / 1e9;
    let mut kinds: Vec<(&str, usize, f64, u64)> = Vec::new();
    for p in profile {
        match kinds.iter_mut().find(|k| k.0 == p.kernel) {
            Some(k) => (k.1, k.2, k.3) = (k.1 + 1, k.2 + p.seconds, k.3 + p.flops),
            None => kinds.push((p.kernel, 1, p.seconds, p.flops)),
        }
    }
    kinds.sort_by(|a, b| b.2.total_cmp(&a.2));
    let runs_flops: u64 = profile.iter().map(|p| p.flops).sum();
    let mut out = format!(
        "{} {} on {} thread(s): {} instructions, {:.1} MFLOP and {:.3} ms per run\n\n\
         | kernel | count | % time | GFLOP/s |\n|---|---|---|---|\n",
        config_name(name, cell),
        cell.objective,
        cell.threads,
        profile.len(),
        runs_flops as f64 / 1e6,
        total * 1e3
    );
    for (kernel, count, seconds, flops) in &kinds {
        out += &format!(
            "| {kernel} | {count} | {:.1} | {:.1} |\n",
            share(*seconds),
            gflops(*flops, *seconds)
        );
    }
    let mut slowest: Vec<(usize, &InstrProfile)> = profile.iter().enumerate().collect();
    slowest.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
    out += "\n| # | kernel | detail | % time | GFLOP/s |\n|---|---|---|---|---|\n";
    for (i, p) in slowest.into_iter().take(PROFILE_TOP) {
        out += &format!(
            "| {i} | {} | {} | {:.1} | {:.1} |\n",
            p.kernel,
            p.detail,
            share(p.seconds),
            gflops(p.flops, p.seconds)
        );
    }
    out
}

/// The table's header (Markdown).
const HEADER: &str = "| config (D,H,L,B) | objective | threads | ms/step | steps/s | MFLOP/step | GFLOP/s | % peak | MiB | MiB ÷ live | compile s |\n|---|---|---|---|---|---|---|---|---|---|---|";

/// A cell's grid name and configuration: `G3(64,512,3,128)`, or `(D,H,L,B)` off the grid.
fn config_name(name: &str, c: &Cell) -> String {
    format!("{name}({},{},{},{})", c.dim, c.hidden, c.layers, c.batch)
}

/// One measurement as a table row.
fn row(name: &str, m: &Measurement) -> String {
    let c = &m.cell;
    format!(
        "| {} | {} | {} | {:.3} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.2} | {:.2} |",
        config_name(name, c),
        c.objective,
        c.threads,
        m.ms_per_step,
        m.steps_per_s,
        m.flops_per_step as f64 / 1e6,
        m.gflops,
        100.0 * m.peak_fraction,
        m.peak_bytes as f64 / (1024.0 * 1024.0),
        m.peak_bytes as f64 / m.must_live_bytes.max(1) as f64,
        m.compile_s
    )
}

/// The cells the flags select, each with its grid name ("" for `--config`).
fn cells(args: &BenchArgs) -> Result<Vec<(String, Cell)>> {
    let (grid_filter, objective_filter) = match args.filter.as_deref() {
        None => (None, None),
        Some(f) => parse_filter(f)?,
    };
    let configs: Vec<(&str, [usize; 4])> = match args.config.as_slice() {
        [_, ..] => args.config.iter().map(|&c| ("", c)).collect(),
        [] => {
            let chosen: Vec<_> = GRID
                .iter()
                .filter(|g| grid_filter.as_deref().is_none_or(|f| g.0.eq_ignore_ascii_case(f)))
                .map(|&(name, d, h, l, b)| (name, [d, h, l, b]))
                .collect();
            if chosen.is_empty() {
                return Err(usage(format!(
                    "--filter {}: no grid cell is named so (the grid is G1, G2, G3, G4)",
                    args.filter.as_deref().unwrap_or_default()
                )));
            }
            chosen
        }
    };
    let named: Vec<ObjectiveKind> =
        args.objective.iter().copied().chain(objective_filter).collect();
    let mut cells = Vec::new();
    for (name, [dim, hidden, layers, batch]) in configs {
        let objectives = if named.is_empty() {
            let esm = dim <= 16;
            [ObjectiveKind::Ssm, ObjectiveKind::SsmVr, ObjectiveKind::Dsm, ObjectiveKind::Esm]
                .into_iter()
                .filter(|&o| o != ObjectiveKind::Esm || esm)
                .collect()
        } else {
            named.clone()
        };
        for objective in objectives {
            for &threads in &args.threads {
                let esm_chunk = args.esm_chunk;
                let cell = Cell { dim, hidden, layers, batch, objective, threads, esm_chunk };
                cell.validate()?;
                cells.push((name.to_string(), cell));
            }
        }
    }
    Ok(cells)
}

/// `G2/ssm`, `G2` or `ssm`: a grid name, an objective, or both.
fn parse_filter(text: &str) -> Result<(Option<String>, Option<ObjectiveKind>)> {
    let objective =
        |s: &str| s.parse::<ObjectiveKind>().map_err(|e| usage(format!("--filter {text}: {e}")));
    match text.split_once('/') {
        Some((grid, obj)) => Ok((Some(grid.to_string()), Some(objective(obj)?))),
        None if text.len() == 2 && text[..1].eq_ignore_ascii_case("g") => {
            Ok((Some(text.to_string()), None))
        }
        None => Ok((None, Some(objective(text)?))),
    }
}

/// `D,H,L,B`: four whole numbers, each at least 1.
fn parse_config(text: &str) -> Result<[usize; 4], String> {
    let values: Vec<usize> = text
        .split(',')
        .map(|v| v.trim().parse::<usize>().ok().filter(|&n| n >= 1))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("'{text}' is not D,H,L,B (four whole numbers, each at least 1)"))?;
    values
        .try_into()
        .map_err(|_| format!("'{text}' is not D,H,L,B (four whole numbers, each at least 1)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_and_filters_parse() {
        assert_eq!(parse_config("2,128,3,256"), Ok([2, 128, 3, 256]));
        assert!(parse_config("2,128,3").is_err() && parse_config("2,0,3,4").is_err());
        let (g, o) = parse_filter("G2/ssm").expect("filter");
        assert_eq!((g.as_deref(), o), (Some("G2"), Some(ObjectiveKind::Ssm)));
        assert_eq!(parse_filter("g4").expect("grid").0.as_deref(), Some("g4"));
        assert_eq!(parse_filter("dsm").expect("objective").1, Some(ObjectiveKind::Dsm));
        assert!(parse_filter("G2/nope").is_err());
    }
}
