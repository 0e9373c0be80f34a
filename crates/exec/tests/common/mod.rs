//! Shared test helpers: seeded feeds and the executor-vs-interpreter check.
#![allow(dead_code, clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{DType, Element, Graph, Tensor, evaluate};

/// Relative tolerance per element type.
pub fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 1e-5,
    }
}

/// Seeded values for an input. The name picks the distribution: `pos*` in [0.5, 2],
/// `int*` small integers in {-2, …, 2} (ties and zeros for compare/select), otherwise
/// uniform in [-2, 2]. Rounded to f32 for f32 inputs so that the interpreter sees the
/// values the program sees.
pub fn feed(name: &str, n: usize, dtype: DType, rng: &mut StdRng) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let v: f64 = if name.starts_with("pos") {
                rng.random_range(0.5..2.0)
            } else if name.starts_with("int") {
                f64::from(rng.random_range(-2i32..=2))
            } else {
                rng.random_range(-2.0..2.0)
            };
            if dtype == DType::F32 { f64::from(v as f32) } else { v }
        })
        .collect()
}

/// Seeded feeds for all `inputs`.
pub fn feeds(inputs: &[Tensor], dtype: DType, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    inputs
        .iter()
        .map(|t| {
            let name = t.graph().input_name(t.id()).unwrap();
            feed(&name, t.numel(), dtype, &mut rng)
        })
        .collect()
}

/// Asserts `got ≈ want`, element by element, with a tolerance relative to the element and
/// to the output's largest magnitude (sums and products of many terms cancel).
pub fn assert_close(label: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let scale = want.iter().fold(1.0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (w.abs() + scale);
        assert!(ok, "{label}: element {i}: got {g}, want {w} (tol {tol})");
    }
}

/// Compiles `outs` over `T`, runs it on `data` and returns the outputs as f64.
pub fn run_program<T: Element>(
    inputs: &[Tensor],
    outs: &[Tensor],
    data: &[Vec<f64>],
    options: &CompileOptions,
) -> (Program<T>, Vec<Vec<f64>>) {
    let mut p = compile::<T>(inputs, outs, options).unwrap();
    let typed: Vec<Vec<T>> =
        data.iter().map(|d| d.iter().map(|&v| T::from_f64(v)).collect()).collect();
    let refs: Vec<&[T]> = typed.iter().map(Vec::as_slice).collect();
    p.run(&refs).unwrap();
    let out = (0..p.num_outputs())
        .map(|i| p.output(i).iter().map(|&v| Element::to_f64(v)).collect())
        .collect();
    (p, out)
}

/// Builds a test graph: (inputs in feeding order, outputs).
pub type Build<'a> = &'a dyn Fn(&Graph, DType) -> (Vec<Tensor>, Vec<Tensor>);

/// Checks the program against the interpreter for one graph, dtype and options.
pub fn check_one(label: &str, build: Build<'_>, dtype: DType, options: &CompileOptions, seed: u64) {
    let g = Graph::new();
    let (ins, outs) = build(&g, dtype);
    let data = feeds(&ins, dtype, seed);
    let pairs: Vec<(&Tensor, &[f64])> =
        ins.iter().zip(&data).map(|(t, d)| (t, d.as_slice())).collect();
    let want = evaluate(&outs, &pairs).unwrap();
    let (got, fallbacks) = match dtype {
        DType::F64 => {
            let (p, out) = run_program::<f64>(&ins, &outs, &data, options);
            (out, p.stats().reference_kernels)
        }
        DType::F32 => {
            let (p, out) = run_program::<f32>(&ins, &outs, &data, options);
            (out, p.stats().reference_kernels)
        }
    };
    // Only cases labelled as fallbacks may use the reference kernel.
    assert!(label.starts_with("fallback") || fallbacks == 0, "{label}: {fallbacks} fallbacks");
    let label = format!(
        "{label} [{dtype}, threads {}, optimize {}, fuse {}]",
        options.threads, options.optimize, options.fuse
    );
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(&format!("{label} output {k}"), g, &w.data, tol(dtype));
    }
}

/// Checks the program against the interpreter in f64 and f32, on 1 and 2 threads, with
/// and without the optimiser, with and without fusion.
pub fn check(label: &str, build: impl Fn(&Graph, DType) -> (Vec<Tensor>, Vec<Tensor>)) {
    let seed = label.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    for dtype in [DType::F64, DType::F32] {
        for threads in [1, 2] {
            for (optimize, fuse) in [(true, true), (false, true), (true, false)] {
                let options = CompileOptions { threads, optimize, fuse };
                check_one(label, &build, dtype, &options, seed);
            }
        }
    }
}
