//! The buffer plan: reuse is correct (repeated runs, deep chains, aliases), outputs keep
//! their addresses, and the program reports what it compiled.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_close, feeds, run_program};
use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{DType, Graph, Tensor, evaluate, grad};

fn assert_send<T: Send>() {}

#[test]
fn programs_are_send() {
    assert_send::<Program<f32>>();
    assert_send::<Program<f64>>();
}

/// A deep chain with branches of many sizes, so buffers are freed and reused constantly.
fn deep_chain(g: &Graph, dt: DType, depth: usize) -> (Vec<Tensor>, Vec<Tensor>) {
    let x = g.input("x", &[8, 16], dt);
    let w = g.input("w", &[16, 16], dt);
    let mut h = x.clone();
    let mut side = Vec::new();
    for i in 0..depth {
        let z = h.matmul(&w).tanh();
        let s = z.sum(&[1]).reshape(&[8, 1]); // a small value
        h = match i % 3 {
            0 => &z + &s,
            1 => (&z * &h).sin() - &s.exp(),
            _ => Tensor::concat(&[z.slice(&[0, 0], &[8, 8]), h.slice(&[0, 8], &[8, 16])], 1),
        };
        if i % 10 == 0 {
            side.push(s);
        }
    }
    let mut outs = vec![h.sum_all()];
    outs.extend(side);
    outs.push(h);
    (vec![x, w], outs)
}

#[test]
fn deep_chain_reuses_buffers_correctly() {
    for dt in [DType::F64, DType::F32] {
        for threads in [1, 2] {
            let g = Graph::new();
            let (ins, outs) = deep_chain(&g, dt, 60);
            let opts = CompileOptions::with_threads(threads);
            for seed in [1, 2] {
                let data = feeds(&ins, dt, seed);
                let pairs: Vec<(&Tensor, &[f64])> =
                    ins.iter().zip(&data).map(|(t, d)| (t, d.as_slice())).collect();
                let want = evaluate(&outs, &pairs).unwrap();
                let got = match dt {
                    DType::F64 => run_program::<f64>(&ins, &outs, &data, &opts).1,
                    DType::F32 => run_program::<f32>(&ins, &outs, &data, &opts).1,
                };
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_close(
                        &format!("deep {dt} t{threads} out {k}"),
                        g,
                        &w.data,
                        common::tol(dt) * 10.0,
                    );
                }
            }
        }
    }
    let g = Graph::new();
    let (ins, outs) = deep_chain(&g, DType::F64, 60);
    let p = compile::<f64>(&ins, &outs, &CompileOptions::default()).unwrap();
    let s = p.stats();
    assert!(s.buffers * 4 < s.values, "little reuse: {s:?}");
    assert!(s.bytes * 4 < s.unshared_bytes, "little reuse: {s:?}");
    assert!(0 < s.live_peak_bytes && s.live_peak_bytes <= s.bytes, "live peak: {s:?}");
}

#[test]
fn runs_twice_with_different_inputs_and_stable_outputs() {
    let g = Graph::new();
    let x = g.input("x", &[5, 3], DType::F64);
    let w = g.input("w", &[3, 4], DType::F64);
    let y = x.matmul(&w).tanh();
    let e = y.sum_all();
    let gw = grad(&e, std::slice::from_ref(&w)).unwrap().remove(0);
    let outs = [e, gw, y];
    let mut p = compile::<f64>(&[x.clone(), w.clone()], &outs, &CompileOptions::default()).unwrap();
    let mut addrs = Vec::new();
    for seed in [3, 4, 3] {
        let data = feeds(&[x.clone(), w.clone()], DType::F64, seed);
        p.run(&[&data[0], &data[1]]).unwrap();
        let want = evaluate(&outs, &[(&x, &data[0]), (&w, &data[1])]).unwrap();
        for (k, w) in want.iter().enumerate() {
            assert_close(&format!("run seed {seed} out {k}"), p.output(k), &w.data, 1e-12);
        }
        addrs.push((0..3).map(|k| p.output(k).as_ptr() as usize).collect::<Vec<_>>());
    }
    assert!(addrs.windows(2).all(|w| w[0] == w[1]), "outputs moved: {addrs:?}");
    assert_eq!(p.output_shape(1), &[3, 4]);
    assert_eq!(p.input_shapes(), &[vec![5, 3], vec![3, 4]]);
}

#[test]
fn aliases_and_absorbed_transposes_are_counted() {
    let g = Graph::new();
    let a = g.input("a", &[6, 4], DType::F64);
    let b = g.input("b", &[6, 3], DType::F64);
    let y = a.mt().dot(&b).reshape(&[12]).stop_gradient().exp();
    let p = compile::<f64>(&[a, b], &[y], &CompileOptions::default()).unwrap();
    let s = p.stats();
    assert_eq!(s.absorbed_transposes, 1, "{s:?}");
    assert_eq!(s.aliases, 2, "{s:?}");
    assert_eq!(s.instructions, 2, "{s:?}"); // dot, exp
    assert_eq!(p.flops(), 2 * 4 * 6 * 3 + 12);
}

#[test]
fn constants_are_ready_before_the_first_run_and_survive_runs() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F32);
    let c = g.literal(&[1.0, 2.0, 3.0], &[3], DType::F32).unwrap();
    let y = (&x + &c).exp();
    let mut p = compile::<f32>(&[x], &[c, y], &CompileOptions::default()).unwrap();
    assert_eq!(p.output(0), &[1.0, 2.0, 3.0]);
    for _ in 0..3 {
        p.run(&[&[0.0, -1.0, -2.0]]).unwrap();
        assert_eq!(p.output(0), &[1.0, 2.0, 3.0]);
        assert_eq!(p.output(1), &[1.0f32.exp(), 1.0f32.exp(), 1.0f32.exp()]);
    }
    assert_eq!(p.stats().constants, 1);
}

#[test]
fn reused_buffers_never_clobber_live_aliases() {
    // r aliases t's buffer through a reshape; r is read long after t's other uses, while
    // many temporaries of the same size come and go.
    let g = Graph::new();
    let x = g.input("x", &[4, 4], DType::F64);
    let t = x.exp();
    let r = t.reshape(&[16]);
    let mut acc = x.clone();
    for _ in 0..20 {
        acc = (&acc * 0.5).sin() + &t;
    }
    let y = acc.reshape(&[16]) + &r;
    let data = feeds(std::slice::from_ref(&x), DType::F64, 9);
    let want = evaluate(std::slice::from_ref(&y), &[(&x, &data[0])]).unwrap();
    let (_, got) = run_program::<f64>(&[x], &[y], &data, &CompileOptions::default());
    assert_close("alias", &got[0], &want[0].data, 1e-12);
}

#[test]
fn the_live_peak_counts_operands_and_results_together() {
    // Unfused, a chain of three elementwise kernels holds at most two values at once: an
    // operand and its result.
    let n = 1000;
    let g = Graph::new();
    let x = g.input("x", &[n], DType::F64);
    let y = x.tanh().exp().sin();
    let unfused = CompileOptions { fuse: false, ..CompileOptions::default() };
    let s = compile::<f64>(&[x], &[y], &unfused).unwrap().stats();
    assert_eq!(s.live_peak_bytes, 2 * n * 8, "{s:?}");
    assert_eq!(s.bytes, 2 * n * 8, "{s:?}");
}
