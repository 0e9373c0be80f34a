//! Sums of matrix products accumulated in place (`accumulate.rs`): the same values as the
//! interpreter, no add kernel and no buffer per product, and nothing carried over from
//! one run to the next.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_close, feeds, run_program, tol};
use scorematch_exec::{CompileOptions, compile};
use scorematch_graph::{DType, Graph, Tensor, evaluate, grad};

/// Three products of one shape, `aᵢᵀ·bᵢ` (the form of a weight's gradient terms), summed
/// as `((p₀ + p₁) + p₂)` and as `(p₀ + (p₁ + p₂))`.
fn sums(g: &Graph, dt: DType) -> (Vec<Tensor>, [Tensor; 3]) {
    let shape = |name: &str| if name.starts_with('a') { [6, 4] } else { [6, 5] };
    let names = ["a0", "b0", "a1", "b1", "a2", "b2"];
    let ins: Vec<Tensor> = names.iter().map(|n| g.input(n, &shape(n), dt)).collect();
    let product = |k: usize| ins[2 * k].mt().matmul(&ins[2 * k + 1]);
    let products = [product(0), product(1), product(2)];
    (ins, products)
}

fn check(ins: &[Tensor], outs: &[Tensor], dt: DType, opts: &CompileOptions, label: &str) {
    let data = feeds(ins, dt, 7);
    let pairs: Vec<(&Tensor, &[f64])> =
        ins.iter().zip(&data).map(|(t, d)| (t, d.as_slice())).collect();
    let want = evaluate(outs, &pairs).unwrap();
    let got = match dt {
        DType::F64 => run_program::<f64>(ins, outs, &data, opts).1,
        DType::F32 => run_program::<f32>(ins, outs, &data, opts).1,
    };
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(&format!("{label} output {k} {dt:?}"), g, &w.data, tol(dt));
    }
}

#[test]
fn a_sum_of_products_is_accumulated_in_one_buffer() {
    for dt in [DType::F64, DType::F32] {
        for threads in [1, 2] {
            for fuse in [true, false] {
                let opts = CompileOptions { threads, fuse, ..CompileOptions::default() };
                let g = Graph::new();
                let (ins, [p0, p1, p2]) = sums(&g, dt);
                let left = &(&p0 + &p1) + &p2;
                check(&ins, std::slice::from_ref(&left), dt, &opts, "left tree");
                if dt == DType::F64 {
                    let p = compile::<f64>(&ins, std::slice::from_ref(&left), &opts).unwrap();
                    let s = p.stats();
                    assert_eq!(s.kernels, vec![("dot", 3)], "only the three products run");
                    assert_eq!(s.bytes, 4 * 5 * 8, "one buffer, the sum's");
                }

                let g = Graph::new();
                let (ins, [p0, p1, p2]) = sums(&g, dt);
                let right = &p0 + &(&p1 + &p2);
                // The sum read by an elementwise kernel, not an output itself.
                let after = (&right * 0.5).tanh();
                check(&ins, &[after], dt, &opts, "right tree, read after");
            }
        }
    }
}

#[test]
fn a_product_read_elsewhere_is_summed_as_written() {
    let dt = DType::F64;
    let g = Graph::new();
    let (ins, [p0, p1, p2]) = sums(&g, dt);
    let total = &(&p0 + &p1) + &p2;
    // p1 is also an output: it keeps a buffer of its own, so the sum cannot take it.
    let outs = [total, p1];
    check(&ins, &outs, dt, &CompileOptions::default(), "shared product");
    let p = compile::<f64>(&ins, &outs, &CompileOptions::default()).unwrap();
    assert!(p.stats().kernels.iter().any(|(k, _)| *k != "dot"), "{:?}", p.stats().kernels);
}

#[test]
fn every_run_starts_the_sum_afresh() {
    let dt = DType::F32;
    let g = Graph::new();
    let (ins, [p0, p1, p2]) = sums(&g, dt);
    let total = &(&p0 + &p1) + &p2;
    let data = feeds(&ins, dt, 3);
    let typed: Vec<Vec<f32>> = data.iter().map(|d| d.iter().map(|&v| v as f32).collect()).collect();
    let refs: Vec<&[f32]> = typed.iter().map(Vec::as_slice).collect();
    let mut p = compile::<f32>(&ins, &[total], &CompileOptions::default()).unwrap();
    p.run(&refs).unwrap();
    let first = p.output(0).to_vec();
    for _ in 0..3 {
        p.run(&refs).unwrap();
        assert_eq!(p.output(0), first.as_slice());
    }
}

#[test]
fn a_weight_used_twice_gets_its_gradient_summed_in_place() {
    // y = tanh(tanh(x·W)·W): W's gradient is a sum of two products.
    for dt in [DType::F64, DType::F32] {
        let g = Graph::new();
        let x = g.input("x", &[7, 5], dt);
        let w = g.input("w", &[5, 5], dt);
        let y = x.matmul(&w).tanh().matmul(&w).tanh().sum_all();
        let gw = grad(&y, std::slice::from_ref(&w)).unwrap().remove(0);
        let ins = [x, w];
        check(&ins, &[y, gw.clone()], dt, &CompileOptions::default(), "gradient");
        // Unfused, an add left standing would be a kernel of its own named so.
        let unfused = CompileOptions { fuse: false, ..CompileOptions::default() };
        if dt == DType::F64 {
            let p = compile::<f64>(&ins, &[gw], &unfused).unwrap();
            let kernels = p.stats().kernels;
            assert!(kernels.iter().all(|(k, _)| *k != "add"), "{kernels:?}");
        }
    }
}
