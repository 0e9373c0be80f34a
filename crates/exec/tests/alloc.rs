//! `Program::run` allocates nothing (single-threaded programs; rayon's scheduler may
//! allocate when threads > 1). A counting global allocator counts allocations made by
//! this thread while a run is in progress.
#![allow(clippy::unwrap_used)]

mod support {
    pub mod counting_alloc;
}
use support::counting_alloc::count;

use scorematch_exec::{CompileOptions, compile};
use scorematch_graph::{DType, Graph, Tensor, grad, hvp};

#[test]
fn run_does_not_allocate() {
    let g = Graph::new();
    let x = g.input("x", &[32, 2], DType::F32);
    let w1 = g.input("w1", &[64, 2], DType::F32);
    let b1 = g.input("b1", &[64], DType::F32);
    let w2 = g.input("w2", &[1, 64], DType::F32);
    let v = g.input("v", &[32, 2], DType::F32);
    let e = ((x.matmul(&w1.mt()) + &b1).softplus().matmul(&w2.mt())).sum_all();
    let hv = hvp(&e, &x, &v).unwrap();
    let loss = (&hv * &v).sum_all() + e.clone();
    let grads = grad(&loss, &[w1.clone(), b1.clone(), w2.clone()]).unwrap();
    let mut outs = vec![loss];
    outs.extend(grads);
    // A pad, a concat, a transpose and reductions too.
    let extra = Tensor::concat(
        &[x.pad(&[1, 0], &[0, 1]).mt(), v.slice(&[0, 0], &[32, 1]).pad(&[0, 0], &[1, 2]).mt()],
        0,
    );
    outs.push(extra.max(&[1]));
    let ins = [x, w1, b1, w2, v];
    let mut p = compile::<f32>(&ins, &outs, &CompileOptions::default()).unwrap();
    assert_eq!(p.stats().reference_kernels, 0);
    let data: Vec<Vec<f32>> =
        ins.iter().map(|t| (0..t.numel()).map(|i| (i as f32 * 0.37).sin()).collect()).collect();
    let refs: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
    p.run(&refs).unwrap();
    let ((), allocations) = count(|| {
        for _ in 0..3 {
            p.run(&refs).unwrap();
        }
    });
    assert_eq!(allocations, 0, "run allocated");
    assert!(p.output(0)[0].is_finite());
}
