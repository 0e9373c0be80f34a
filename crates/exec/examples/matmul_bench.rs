//! Quick measurement (not a test): GFLOP/s of an f32 matmul through a compiled program.
//!
//! `cargo run --release -p scorematch-exec --example matmul_bench [n] [threads]`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use scorematch_exec::{CompileOptions, compile};
use scorematch_graph::{DType, Graph};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let n = args.first().copied().unwrap_or(256);
    let threads = args.get(1).copied().unwrap_or(1);
    let g = Graph::new();
    let a = g.input("a", &[n, n], DType::F32);
    let b = g.input("b", &[n, n], DType::F32);
    let y = a.dot(&b);
    let mut p = compile::<f32>(&[a, b], &[y], &CompileOptions::with_threads(threads)).unwrap();
    let da: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.1).sin()).collect();
    let db: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.3).cos()).collect();
    for _ in 0..20 {
        p.run(&[&da, &db]).unwrap();
    }
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let reps = 50;
        let t = Instant::now();
        for _ in 0..reps {
            p.run(&[&da, &db]).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(reps));
    }
    let gflops = p.flops() as f64 / best / 1e9;
    // Baseline in the same run: faer called directly on the same slices.
    let mut out = vec![0f32; n * n];
    let mut base = f64::INFINITY;
    let par = if threads > 1 { faer::Par::rayon(threads) } else { faer::Par::Seq };
    for _ in 0..10 {
        let reps = 50;
        let t = Instant::now();
        for _ in 0..reps {
            faer::linalg::matmul::matmul(
                faer::MatMut::from_row_major_slice_mut(&mut out, n, n),
                faer::Accum::Replace,
                faer::MatRef::from_row_major_slice(&da, n, n),
                faer::MatRef::from_row_major_slice(&db, n, n),
                1.0f32,
                par,
            );
        }
        base = base.min(t.elapsed().as_secs_f64() / f64::from(reps));
    }
    let base_gflops = p.flops() as f64 / base / 1e9;
    println!(
        "{n}x{n}·{n}x{n} f32, {threads} thread(s): program {:.1} µs = {gflops:.1} GFLOP/s; \
         faer direct {:.1} µs = {base_gflops:.1} GFLOP/s",
        best * 1e6,
        base * 1e6,
    );
}
