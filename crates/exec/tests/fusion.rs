//! Fused elementwise kernels and transpose sinking: against the reference interpreter over
//! edge-case shapes (chunk and thread boundaries, empty, scalar), bit for bit against the
//! unfused program, and through the statistics that say what was fused.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Build, check, feeds, run_program};
use scorematch_exec::{CompileOptions, PAR_MIN_ELEMS, compile};
use scorematch_graph::{DType, Element, Graph, Tensor, grad, hvp};

/// Element counts around the chunk (512 elements) and threading boundaries.
fn sizes() -> Vec<Vec<usize>> {
    vec![
        vec![],
        vec![0],
        vec![1],
        vec![255],
        vec![511],
        vec![512],
        vec![513],
        vec![2049],
        vec![3, 2049],
        vec![PAR_MIN_ELEMS / 8 + 3],
        vec![PAR_MIN_ELEMS + 1],
    ]
}

/// softplus chain with constants, a compare/select and a max: one group.
fn chain(x: &Tensor) -> Tensor {
    let h = (x * 0.5 + 1.0).softplus();
    let m = h.maximum(&(x * -2.0));
    x.gt(&x.zeros_like()).select(&m, &(m.exp() - 1.0)) / 3.0
}

#[test]
fn chains_with_constants_against_the_interpreter() {
    for s in sizes() {
        check(&format!("chain {s:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![chain(&x)])
        });
    }
}

#[test]
fn multi_output_groups_views_and_sinking() {
    for s in [vec![4, 64], vec![7, 37], vec![200, 41]] {
        check(&format!("multi {s:?}"), |g, dt| {
            let (b, n) = (s[0], s[1]);
            let x = g.input("x", &[b, n], dt);
            let w = g.input("w", &[n, n], dt);
            // e is read by the product and by a later group; t only by the later group
            // (it sinks there); r is a view of a member read by another member and output.
            let e = x.exp();
            let t = (&x * &x).tanh();
            let r = e.reshape(&[b * n]).reshape(&[b, n]);
            let y = e.matmul(&w);
            let z = ((&y * &t).tanh() + &r + 1.0).log1p().sqrt();
            (vec![x.clone(), w], vec![z, r.reshape(&[n * b]), t.sum(&[1])])
        });
    }
}

#[test]
fn groups_with_many_outputs_are_split() {
    check("many outputs", |g, dt| {
        let x = g.input("x", &[5, 300], dt);
        let mut outs = Vec::new();
        let mut h = x.clone();
        for k in 0..40 {
            h = (&h * 0.9 + k as f64).sin();
            outs.push(h.sum(&[1]));
        }
        outs.push(h);
        (vec![x], outs)
    });
}

#[test]
fn many_live_values_need_many_registers() {
    check("registers", |g, dt| {
        let x = g.input("x", &[600], dt);
        let vals: Vec<Tensor> = (0..30).map(|k| (&x * (1.0 + k as f64 * 0.1)).cos()).collect();
        let mut acc = x.zeros_like();
        for v in vals.iter().rev() {
            acc = acc + v * v;
        }
        (vec![x], vec![acc])
    });
}

#[test]
fn nan_and_ties_through_fused_max_compare_select() {
    check("nan", |g, dt| {
        let x = g.input("int_x", &[300], dt);
        let y = g.input("int_y", &[300], dt);
        let nan = (&x - &x) / (&y - &y); // 0/0 = NaN everywhere
        let m = x.maximum(&(&y + &nan)).maximum(&x);
        let c = x.le(&y).select(&m, &y.exp());
        (vec![x, y], vec![c, m])
    });
}

/// The MLP energy of the autodiff tests with a sliced score-matching loss and its
/// parameter gradient: many groups, immediates, sinking, transposes to sink.
fn ssm_graph(g: &Graph, dt: DType) -> (Vec<Tensor>, Vec<Tensor>) {
    let (b, d, h) = (33, 3, 40);
    let x = g.input("x", &[b, d], dt);
    let w1 = g.input("w1", &[h, d], dt);
    let b1 = g.input("b1", &[h], dt);
    let w2 = g.input("w2", &[h, h], dt);
    let w3 = g.input("w3", &[1, h], dt);
    let v = g.input("v", &[b, d], dt);
    let hid = (x.matmul(&w1.mt()) + &b1).softplus();
    let hid = hid.matmul(&w2.mt()).softplus();
    let e = hid.matmul(&w3.mt()).sum_all();
    let hv = hvp(&e, &x, &v).unwrap();
    let s = grad(&e, std::slice::from_ref(&x)).unwrap().remove(0);
    let loss = (&hv * &v).sum_all() + 0.5 * s.square().sum_all();
    let params = [w1.clone(), b1.clone(), w2.clone(), w3.clone()];
    let mut outs = vec![loss.clone()];
    outs.extend(grad(&loss, &params).unwrap());
    (vec![x, w1, b1, w2, w3, v], outs)
}

#[test]
fn score_matching_gradient_against_the_interpreter() {
    check("ssm", ssm_graph);
}

/// Outputs of one compiled program as raw values.
fn outputs<T: Element>(opts: &CompileOptions, build: Build<'_>) -> Vec<Vec<T>> {
    let g = Graph::new();
    let (ins, outs) = build(&g, T::DTYPE);
    let data = feeds(&ins, T::DTYPE, 5);
    let mut p = compile::<T>(&ins, &outs, opts).unwrap();
    let typed: Vec<Vec<T>> =
        data.iter().map(|d| d.iter().map(|&v| T::from_f64(v)).collect()).collect();
    let refs: Vec<&[T]> = typed.iter().map(Vec::as_slice).collect();
    p.run(&refs).unwrap();
    (0..p.num_outputs()).map(|i| p.output(i).to_vec()).collect()
}

fn bits_equal<T: Element>(a: &[Vec<T>], b: &[Vec<T>], label: &str) {
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            let same = p == q || (p.is_nan() && q.is_nan());
            assert!(same, "{label}: output {k} element {i}: {p:?} vs {q:?}");
        }
    }
}

#[test]
fn fused_is_bit_identical_to_unfused() {
    let big = |g: &Graph, dt: DType| {
        let x = g.input("x", &[3, PAR_MIN_ELEMS / 2 + 5], dt);
        (vec![x.clone()], vec![chain(&x), x.softplus().tanh()])
    };
    let cases: [(&str, Build<'_>); 2] = [("ssm", &ssm_graph), ("chain", &big)];
    for (label, build) in cases {
        for threads in [1, 2] {
            let on = CompileOptions { threads, ..CompileOptions::default() };
            let off = CompileOptions { fuse: false, ..on.clone() };
            bits_equal(&outputs::<f32>(&on, build), &outputs::<f32>(&off, build), label);
            bits_equal(&outputs::<f64>(&on, build), &outputs::<f64>(&off, build), label);
        }
        // Elementwise results do not depend on how the elements are split across threads.
        if label == "chain" {
            let one = outputs::<f32>(&CompileOptions::default(), build);
            bits_equal(&one, &outputs::<f32>(&CompileOptions::with_threads(2), build), label);
        }
    }
}

#[test]
fn statistics_say_what_was_fused() {
    let g = Graph::new();
    let x = g.input("x", &[10, 30], DType::F32);
    let w = g.input("w", &[30, 30], DType::F32);
    let y = chain(&x).matmul(&w).tanh() * 2.0;
    let p =
        compile::<f32>(&[x.clone(), w.clone()], &[y.clone()], &CompileOptions::default()).unwrap();
    let s = p.stats();
    // One fused kernel before the product, one after; no constant is materialised.
    assert_eq!(s.instructions, 3, "{s:?}");
    assert_eq!(s.constants, 0, "{s:?}");
    assert!(s.fused_nodes >= 10, "{s:?}");
    assert!(s.kernels.contains(&("fused", 2)), "{s:?}");
    let unfused = CompileOptions { fuse: false, ..CompileOptions::default() };
    let q = compile::<f32>(&[x, w], &[y], &unfused).unwrap();
    assert_eq!(q.stats().fused_nodes, 0);
    assert!(q.stats().instructions > s.instructions + 8, "{:?}", q.stats());
    assert_eq!(q.flops(), p.flops(), "FLOPs are counted per node, fused or not");
}

/// `mt(mt(a·b) + c·d)`, `mt(e · 2)` with e a product, `mt(mt(x))`, and a product also read
/// elsewhere (not sunk): every case against the interpreter.
fn transposes(g: &Graph, dt: DType) -> (Vec<Tensor>, Vec<Tensor>) {
    let a = g.input("a", &[7, 5], dt);
    let b = g.input("b", &[5, 9], dt);
    let c = g.input("c", &[9, 4], dt);
    let d = g.input("d", &[4, 7], dt);
    let ab = a.matmul(&b); // [7, 9]
    let cd = c.matmul(&d); // [9, 7]
    let y1 = (ab.mt() + &cd).mt(); // [7, 9]
    let y2 = (ab.clone() * 2.0 - 1.0).exp().mt(); // ab is also read by y1: not sunk
    let y3 = ((c.matmul(&d) * 0.5).mt() + 1.0).mt().mt();
    let y4 = a.mt().mt().tanh();
    (vec![a, b, c, d], vec![y1, y2, y3, y4])
}

#[test]
fn transpose_sinking_against_the_interpreter() {
    check("transposes", transposes);
    check("batched", |g, dt| {
        let a = g.input("a", &[3, 6, 5], dt);
        let b = g.input("b", &[3, 5, 4], dt);
        let y = (a.dot(&b) + 1.0).mt();
        (vec![a, b], vec![y])
    });
}

#[test]
fn sunk_transposes_leave_no_transpose_kernel() {
    let g = Graph::new();
    let (ins, outs) = transposes(&g, DType::F64);
    let p = compile::<f64>(&ins, &outs[..1], &CompileOptions::default()).unwrap();
    let s = p.stats();
    assert!(s.kernels.iter().all(|(k, _)| *k != "transpose2" && *k != "gather"), "{s:?}");
    let data = feeds(&ins, DType::F64, 3);
    let (_, got) = run_program::<f64>(&ins, &outs[..1], &data, &CompileOptions::default());
    assert_eq!(got[0].len(), 63);
}

/// e is stored (the product reads it); c = -3e is cheap and read by the groups after
/// both products (so it cannot sink into one), which recompute it from e instead of
/// reading a stored c.
fn recompute(g: &Graph, dt: DType) -> (Vec<Tensor>, Vec<Tensor>) {
    let x = g.input("x", &[6, 300], dt);
    let w = g.input("w", &[300, 300], dt);
    let e = x.exp();
    let c = -&e * 3.0;
    let z = (e.matmul(&w) * &c).tanh();
    let y = z.matmul(&w) * &c + c.maximum(&z);
    (vec![x, w], vec![y])
}

#[test]
fn cheap_values_are_recomputed_where_read() {
    check("recompute", recompute);
    let g = Graph::new();
    let (ins, outs) = recompute(&g, DType::F32);
    let p = compile::<f32>(&ins, &outs, &CompileOptions::default()).unwrap();
    // Stored values: e, both products, z and the result (c is not stored).
    assert_eq!(p.stats().values, 5, "{:?}", p.stats());
    assert_eq!(p.stats().instructions, 5, "{:?}", p.stats());
}
