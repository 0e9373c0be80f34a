//! Benchmark of one training step, as the PyTorch/JAX anchors time it
//! (`../shared/bench/RESULTS.md`): draw v (or z) + loss + gradient in every parameter + Adam,
//! f32, softplus MLP energy f: ℝᴰ → ℝ with L hidden layers of width H, batch B, on a fixed
//! batch x ~ N(0, I).
//!
//! ```text
//! cargo run --release -p scorematch --example bench_step -- [CONFIG] [LOSS] [THREADS] [STEPS]
//! ```
//!
//! - CONFIG: `G1` (D=2, H=128, L=3, B=256), `G2` (16, 256, 3, 256), `G3` (64, 512, 3, 128),
//!   `G4` (784, 1024, 2, 128), a comma list, or `all` (default).
//! - LOSS: `ssm`, `ssm_vr`, `esm`, `dsm`, a comma list, or `all` (default; `all` skips esm
//!   on G3/G4, which takes seconds per step — name it to run it, capped at 3 timed steps).
//! - THREADS: `1`, `2` or `1,2` (default).
//! - STEPS: timed steps per cell (default 50; at least 3); warm-up is 5 steps and ≥ 0.2 s.
//!
//! Per cell it prints the median step time (and the median of the compiled program's run
//! alone), the calling thread's mean CPU time per step (on one thread it is the step's CPU
//! time, which other processes sharing the cores inflate much less than wall time), steps/s, the FLOPs per step counted by `Program::flops()` (matrix products
//! 2·m·k·n, one per element of elementwise kernels and reductions), the achieved GFLOP/s and
//! its share of a GEMM peak measured in the same process: a 512×512·512×512 f32 product
//! through a compiled program (faer) on one thread, best of 15 blocks; the share for t threads is against
//! t × that peak.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use scorematch::model::{Activation, MlpEnergy, Model};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::{Adam, Optimizer};
use scorematch::train::CompiledLoss;
use scorematch_exec::{CompileOptions, compile};
use scorematch_graph::{DType, Graph};

/// (name, D, H, L, B), as the anchors' grid.
const GRID: [(&str, usize, usize, usize, usize); 4] = [
    ("G1", 2, 128, 3, 256),
    ("G2", 16, 256, 3, 256),
    ("G3", 64, 512, 3, 128),
    ("G4", 784, 1024, 2, 128),
];
const LOSSES: [&str; 4] = ["ssm", "ssm_vr", "esm", "dsm"];

fn objective(name: &str) -> Objective {
    match name {
        "ssm" => Objective::Ssm { projection: Projection::Gaussian, n_projections: 1 },
        "ssm_vr" => Objective::SsmVr { projection: Projection::Gaussian, n_projections: 1 },
        "esm" => Objective::Esm,
        "dsm" => Objective::Dsm { sigma: 0.1 },
        other => panic!("unknown loss {other}; choose ssm, ssm_vr, esm, dsm"),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// GFLOP/s of a 512³ f32 product through a compiled program on `threads` threads (the
/// best of 15 blocks of 20 products: a peak, so the least disturbed block).
fn gemm_peak(threads: usize) -> f64 {
    let n = 512;
    let g = Graph::new();
    let a = g.input("a", &[n, n], DType::F32);
    let b = g.input("b", &[n, n], DType::F32);
    let y = a.dot(&b);
    let mut p = compile::<f32>(&[a, b], &[y], &CompileOptions::with_threads(threads)).unwrap();
    let da: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.1).sin()).collect();
    let db: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.3).cos()).collect();
    for _ in 0..10 {
        p.run(&[&da, &db]).unwrap();
    }
    let mut blocks = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..20 {
            p.run(&[&da, &db]).unwrap();
        }
        blocks.push(t.elapsed().as_secs_f64() / 20.0);
    }
    let best = blocks.iter().copied().fold(f64::INFINITY, f64::min);
    p.flops() as f64 / best / 1e9
}

/// CPU time of the calling thread in ns (`/proc/thread-self/schedstat`), where available.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Cell {
    step_ms: f64,
    cpu_ms: Option<f64>,
    run_ms: f64,
    flops: u64,
    instrs: usize,
    compile_s: f64,
    loss: f64,
}

fn bench(
    cfg: (&str, usize, usize, usize, usize),
    loss: &str,
    threads: usize,
    steps: usize,
) -> Cell {
    let (_, d, h, l, b) = cfg;
    let model = MlpEnergy {
        dim: d,
        hidden: vec![h; l],
        activation: Activation::Softplus,
        base_sigma: None,
    };
    let t0 = Instant::now();
    let mut cl = CompiledLoss::<f32>::new(&model, &objective(loss), b, true, threads).unwrap();
    let compile_s = t0.elapsed().as_secs_f64();
    let mut rng = StdRng::seed_from_u64(20240601);
    let mut params: Vec<Vec<f32>> = model
        .param_specs()
        .iter()
        .map(|s| s.initialize(&mut rng).into_iter().map(|v| v as f32).collect())
        .collect();
    let x: Vec<f32> =
        (0..b * d).map(|_| StandardNormal.sample(&mut rng)).map(|v: f64| v as f32).collect();
    let mut grads: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut adam = Adam::<f32>::default();
    let mut noise_rng = StdRng::seed_from_u64(7);
    let mut last = 0.0;
    let mut step = |params: &mut Vec<Vec<f32>>| -> f64 {
        cl.draw_noise(&mut noise_rng);
        let t = Instant::now();
        last = cl.evaluate(params, &x).unwrap();
        let run = t.elapsed().as_secs_f64();
        cl.copy_grads(&mut grads).unwrap();
        adam.step(params, &grads, 1e-4).unwrap();
        run
    };
    let warm = Instant::now();
    let mut n_warm = 0;
    while n_warm < 5 || (warm.elapsed().as_secs_f64() < 0.2 && steps > 3) {
        step(&mut params);
        n_warm += 1;
    }
    let mut totals = Vec::with_capacity(steps);
    let mut runs = Vec::with_capacity(steps);
    let cpu0 = thread_cpu_ns();
    for _ in 0..steps {
        let t = Instant::now();
        let r = step(&mut params);
        totals.push(t.elapsed().as_secs_f64());
        runs.push(r);
    }
    // With a pool the steps run on its threads, not this one.
    let cpu_ms = cpu0
        .zip(thread_cpu_ns())
        .filter(|_| threads == 1)
        .map(|(a, b)| (b - a) as f64 / 1e6 / steps as f64);
    Cell {
        step_ms: median(&mut totals) * 1e3,
        cpu_ms,
        run_ms: median(&mut runs) * 1e3,
        flops: cl.flops(),
        instrs: cl.stats().instructions,
        compile_s,
        loss: last,
    }
}

fn list<'a>(arg: Option<&'a String>, all: &[&'a str]) -> Vec<&'a str> {
    match arg.map(String::as_str) {
        None | Some("all") => all.to_vec(),
        Some(s) => s.split(',').collect(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = GRID.iter().map(|g| g.0).collect();
    let configs = list(args.first(), &names);
    let explicit_loss = args.get(1).is_some_and(|s| s != "all");
    let losses = list(args.get(1), &LOSSES);
    let threads: Vec<usize> = args
        .get(2)
        .map_or("1,2", String::as_str)
        .split(',')
        .map(|t| t.parse().expect("threads: 1, 2 or 1,2"))
        .collect();
    let steps: usize = args.get(3).map_or(50, |s| s.parse().expect("steps: a number")).max(3);

    let peak1 = gemm_peak(1);
    print!("GEMM peak (512³ f32, compiled program through faer): 1 thread {peak1:.1} GFLOP/s");
    if threads.iter().any(|&t| t > 1) {
        print!("; 2 threads {:.1} GFLOP/s", gemm_peak(2));
    }
    println!("\n");
    println!(
        "| config (D,H,L,B) | loss | thr | ms/step | run ms | cpu ms | steps/s | MFLOP/step | GFLOP/s | % peak | instrs | compile s | loss |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for c in &configs {
        let cfg = *GRID.iter().find(|g| g.0 == *c).unwrap_or_else(|| panic!("unknown config {c}"));
        let big = cfg.1 >= 64;
        for loss in &losses {
            if *loss == "esm" && big && !explicit_loss {
                continue;
            }
            let n = if *loss == "esm" && big { 3 } else { steps };
            for &t in &threads {
                let r = bench(cfg, loss, t, n);
                let gflops = r.flops as f64 / (r.step_ms * 1e-3) / 1e9;
                println!(
                    "| {} ({},{},{},{}) | {loss} | {t} | {:.3} | {:.3} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.2} | {:+.3e} |",
                    cfg.0,
                    cfg.1,
                    cfg.2,
                    cfg.3,
                    cfg.4,
                    r.step_ms,
                    r.run_ms,
                    r.cpu_ms.map_or("-".into(), |c| format!("{c:.3}")),
                    1e3 / r.step_ms,
                    r.flops as f64 / 1e6,
                    gflops,
                    100.0 * gflops / (peak1 * t as f64),
                    r.instrs,
                    r.compile_s,
                    r.loss,
                );
            }
        }
    }
}
