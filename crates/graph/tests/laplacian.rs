//! The forward Laplacian ([`laplacian`]): tangents and Σ_k e_kᵀ∇²y e_k against central
//! finite differences of the reference interpreter (second order), for every elementwise op
//! of the tables, the layout ops, batched products and an MLP and a NICE-style coupling;
//! against the trace of Hessian-vector products; and its gradient in the weights (a third
//! derivative) against finite differences. The summed Laplacian by adjoints
//! ([`summed_laplacian`]) is checked on every one of the same cases against the same
//! differences and against [`grad`], and its weight gradient against the forward
//! Laplacian's. The IR verifier runs after every transform.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Rng, assert_close, eval, eval1};
use scorematch_graph::passes::verify;
use scorematch_graph::{
    BinaryOp, DType, Graph, Tensor, UnaryOp, grad, hvp, laplacian, summed_laplacian,
};

type Feeds = Vec<(Tensor, Vec<f64>)>;

const B: usize = 2;
const D: usize = 3;
const C: usize = 4;

fn set(feeds: &Feeds, t: &Tensor, v: Vec<f64>) -> Feeds {
    let mut f: Feeds = feeds.iter().filter(|(u, _)| u != t).cloned().collect();
    f.push((t.clone(), v));
    f
}

fn value_of(feeds: &Feeds, t: &Tensor) -> Vec<f64> {
    feeds.iter().find(|(u, _)| u == t).expect("fed").1.clone()
}

/// Central differences of `y` as `x` moves along each direction `dirs[k]` (x's shape):
/// tangents (y(x + h e) − y(x − h e))/2h stacked over k, and Σ_k (y(x + h e) − 2y(x) +
/// y(x − h e))/h². h = 1e-4: truncation ~h²·|y''''|/12 ≈ 1e-9, rounding ~1e-16/h² ≈ 1e-8.
fn fd_jet(y: &Tensor, feeds: &Feeds, x: &Tensor, dirs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let h = 1e-4;
    let x0 = value_of(feeds, x);
    let at = |dir: &[f64], s: f64| {
        let xs: Vec<f64> = x0.iter().zip(dir).map(|(a, d)| a + s * h * d).collect();
        eval1(y, &set(feeds, x, xs))
    };
    let y0 = eval1(y, feeds);
    let mut tangents = Vec::new();
    let mut lap = vec![0.0; y0.len()];
    for dir in dirs {
        let (p, m) = (at(dir, 1.0), at(dir, -1.0));
        tangents.extend(p.iter().zip(&m).map(|(a, b)| (a - b) / (2.0 * h)));
        for (l, ((a, b), c)) in lap.iter_mut().zip(p.iter().zip(&m).zip(&y0)) {
            *l += (a - 2.0 * c + b) / (h * h);
        }
    }
    (tangents, lap)
}

/// Checks the jets of `ys` in `x` along `C` random directions against [`fd_jet`].
fn check_against_fd(ys: &[Tensor], x: &Tensor, feeds: &Feeds, rng: &mut Rng, what: &str) {
    let g = x.graph();
    let mut shape = vec![C];
    shape.extend_from_slice(x.shape());
    let e = g.input(&format!("e{}", g.len()), &shape, DType::F64);
    let ev = rng.vec(C * x.numel(), -1.0, 1.0);
    let jets = laplacian(ys, std::slice::from_ref(x), std::slice::from_ref(&e)).unwrap();
    verify(g).unwrap();
    let feeds = set(feeds, &e, ev.clone());
    let dirs: Vec<Vec<f64>> = ev.chunks(x.numel()).map(<[f64]>::to_vec).collect();
    for (i, (y, jet)) in ys.iter().zip(&jets).enumerate() {
        let what = format!("{what} #{i}");
        let mut want_shape = vec![C];
        want_shape.extend_from_slice(y.shape());
        assert_eq!(jet.tangents.shape(), want_shape.as_slice(), "{what}: tangent shape");
        assert_eq!(jet.laplacian.shape(), y.shape(), "{what}: Laplacian shape");
        let out = eval(&[jet.tangents.clone(), jet.laplacian.clone()], &feeds);
        let (t, l) = fd_jet(y, &feeds, x, &dirs);
        assert_close(&out[0].data, &t, 1e-7, &format!("{what}: tangents vs FD"));
        assert_close(&out[1].data, &l, 1e-5, &format!("{what}: Laplacian vs FD"));
        // The same Laplacian summed over y, by adjoints, with the gradient of Σy.
        let summed = summed_laplacian(y, std::slice::from_ref(x), std::slice::from_ref(&e))
            .unwrap_or_else(|err| panic!("{what}: {err}"));
        let gx = grad(&y.sum_all(), std::slice::from_ref(x)).unwrap().remove(0);
        verify(g).unwrap();
        assert_eq!(summed.laplacian.shape(), &[] as &[usize], "{what}: summed shape");
        let out = eval(&[summed.laplacian, summed.grads[0].clone(), gx], &feeds);
        let total: f64 = l.iter().sum();
        assert_close(&out[0].data, &[total], 1e-5, &format!("{what}: summed Laplacian vs FD"));
        assert_close(&out[1].data, &out[2].data, 1e-13, &format!("{what}: summed's ∇Σy"));
    }
}

/// A graph with x (B, D) in (0.5, 1.5) and two positive mixtures of it, z1 = x·M1 and
/// z2 = x·M2 (M entries in (0.2, 0.6)), each (B, D): affine in x, so their jets have
/// tangents and no Laplacian.
struct Mixed {
    x: Tensor,
    z1: Tensor,
    z2: Tensor,
    feeds: Feeds,
}

fn mixed(rng: &mut Rng) -> Mixed {
    let g = Graph::new();
    let x = g.input("x", &[B, D], DType::F64);
    let m1 = g.input("m1", &[D, D], DType::F64);
    let m2 = g.input("m2", &[D, D], DType::F64);
    let feeds = vec![
        (x.clone(), rng.vec(B * D, 0.5, 1.5)),
        (m1.clone(), rng.vec(D * D, 0.2, 0.6)),
        (m2.clone(), rng.vec(D * D, 0.2, 0.6)),
    ];
    Mixed { z1: x.matmul(&m1), z2: x.matmul(&m2), x, feeds }
}

#[test]
fn every_unary_op_with_and_without_an_incoming_laplacian() {
    let mut rng = Rng::new(11);
    for &u in UnaryOp::ALL {
        let m = mixed(&mut rng);
        let op = |t: &Tensor| t.apply(scorematch_graph::Op::Unary(u), &[]);
        // z1 is affine (no incoming Laplacian); z1·z2 + 0.1 is curved and positive.
        let curved = &m.z1 * &m.z2 + 0.1;
        check_against_fd(&[op(&m.z1), op(&curved)], &m.x, &m.feeds, &mut rng, u.name());
    }
}

#[test]
fn every_binary_op_on_distinct_shared_and_dependent_operands() {
    let mut rng = Rng::new(12);
    for &b in BinaryOp::ALL {
        let m = mixed(&mut rng);
        let op = |p: &Tensor, q: &Tensor| p.apply(scorematch_graph::Op::Binary(b), &[q]);
        let p = &m.z1 * &m.z1 + 1.0;
        let q = &m.z2 * &m.z1 + 0.5;
        let ys = [
            op(&m.z1, &m.z2),         // both affine
            op(&p, &q),               // both curved
            op(&p, &p),               // one node on both sides
            op(&p, &p.exp()),         // b depends on a: second partials hold the other fixed
            op(&m.z1, &m.z1.sqrt()),  // only b curved
            op(&m.x.ones_like(), &p), // a constant operand
        ];
        check_against_fd(&ys, &m.x, &m.feeds, &mut rng, b.name());
    }
}

#[test]
fn layout_reductions_select_and_batched_products() {
    let mut rng = Rng::new(13);
    let m = mixed(&mut rng);
    let p = (&m.z1 * &m.z2).tanh(); // (B, D), curved
    let q = m.z2.softplus();
    let ys = [
        p.sum(&[-1]),
        p.max(&[-1]),
        p.transpose(&[1, 0]).reshape(&[D * B]),
        Tensor::concat(&[p.narrow(1, 0, 1), m.z1.clone(), q.narrow(1, 1, D)], 1),
        p.pad(&[1, 0], &[0, 2]),
        p.gt(&q).select(&p, &m.z1),
        p.reshape(&[B, D, 1]).broadcast_to(&[B, D, 2]),
        // Batched products (batch axis B) with tangents on either side and on both.
        p.reshape(&[B, D, 1]).matmul(&q.reshape(&[B, 1, D])),
        p.reshape(&[B, 1, D]).matmul(&m.z1.reshape(&[B, D, 1])),
        // Rank-2 products: tangents on the left (one stacked product), right, both.
        p.matmul(&q.transpose(&[1, 0])),
        m.z1.transpose(&[1, 0]).matmul(&p),
        p.convert(DType::F32).convert(DType::F64),
    ];
    check_against_fd(&ys, &m.x, &m.feeds, &mut rng, "layout");
}

/// An MLP energy and a NICE-style coupling, per row of x (B, D), with parameter inputs.
struct Nets {
    g: Graph,
    x: Tensor,
    params: Vec<Tensor>,
    energy: Tensor,
    coupling: Tensor,
    feeds: Feeds,
}

fn nets(seed: u64) -> Nets {
    const H: usize = 5;
    let mut rng = Rng::new(seed);
    let g = Graph::new();
    let x = g.input("x", &[B, D], DType::F64);
    let shapes: [&[usize]; 6] = [&[H, D], &[H], &[H, H], &[H], &[1, H], &[D]];
    let params: Vec<Tensor> =
        shapes.iter().enumerate().map(|(i, s)| g.input(&format!("p{i}"), s, DType::F64)).collect();
    let mut feeds: Feeds =
        params.iter().map(|p| (p.clone(), rng.vec(p.numel(), -1.0, 1.0))).collect();
    feeds.push((x.clone(), rng.vec(B * D, -1.5, 1.5)));
    let mlp = |h: &Tensor, w: &[Tensor]| {
        let h = (h.matmul(&w[0].mt()) + &w[1]).tanh();
        let h = (h.matmul(&w[2].mt()) + &w[3]).softplus();
        h.matmul(&w[4].mt())
    };
    let energy = mlp(&x, &params).sum(&[-1]) + 0.5 * x.square().sum(&[-1]);
    // x_b ← x_b + m(x_a) on a 1 | D−1 split (m from the first layer's weights), scaled.
    let xa = x.narrow(1, 0, 1);
    let xb = x.narrow(1, 1, D);
    let w1a = params[0].narrow(1, 0, 1);
    let shift =
        (xa.matmul(&w1a.mt()) + &params[1]).swish().matmul(&params[2].narrow(0, 0, D - 1).mt());
    let h = Tensor::concat(&[xa, xb + shift], 1) * params[5].exp();
    let coupling = 0.5 * h.square().sum(&[-1]) - params[5].sum_all();
    verify(&g).unwrap();
    Nets { g, x, params, energy, coupling, feeds }
}

#[test]
fn mlp_energy_and_coupling_match_finite_differences() {
    for seed in [1, 2] {
        let n = nets(seed);
        let mut rng = Rng::new(seed + 100);
        check_against_fd(&[n.energy.clone(), n.coupling.clone()], &n.x, &n.feeds, &mut rng, "nets");
        // A score network's output (B, D): here the MLP's input gradient, a curved map.
        let s = grad(&n.energy.sum_all(), std::slice::from_ref(&n.x)).unwrap().remove(0);
        check_against_fd(&[s], &n.x, &n.feeds, &mut rng, "score");
    }
}

#[test]
fn laplacian_along_the_basis_is_the_trace_of_hessian_vector_products() {
    let n = nets(3);
    for f in [&n.energy, &n.coupling] {
        // The D basis directions, every row its own: e[k, b, :] = unit vector k.
        let basis: Vec<f64> =
            (0..D * B * D).map(|i| if i / (B * D) == i % D { 1.0 } else { 0.0 }).collect();
        let e = n.g.literal(&basis, &[D, B, D], DType::F64).unwrap();
        let jet =
            laplacian(std::slice::from_ref(f), std::slice::from_ref(&n.x), &[e]).unwrap().remove(0);
        let mut trace = n.x.zeros_like().sum(&[-1]);
        for k in 0..D {
            let ek = e_row(&n.g, k);
            trace = trace + (hvp(&f.sum_all(), &n.x, &ek).unwrap() * &ek).sum(&[-1]);
        }
        let gx = grad(&f.sum_all(), std::slice::from_ref(&n.x)).unwrap().remove(0);
        verify(&n.g).unwrap();
        let out = eval(&[jet.laplacian, trace, jet.tangents.transpose(&[1, 0]), gx], &n.feeds);
        assert_close(&out[0].data, &out[1].data, 1e-12, "Laplacian vs Σ_k e_kᵀHe_k");
        assert_close(&out[2].data, &out[3].data, 1e-12, "basis tangents vs ∇ₓf");
        assert!(out[0].data.iter().all(|l| l.abs() > 1e-6), "Laplacian should not be trivially 0");
    }
}

/// Unit vector k on every row, (B, D).
fn e_row(g: &Graph, k: usize) -> Tensor {
    let v: Vec<f64> = (0..B * D).map(|i| if i % D == k { 1.0 } else { 0.0 }).collect();
    g.literal(&v, &[B, D], DType::F64).unwrap()
}

#[test]
fn weight_gradient_through_the_laplacian_matches_fd_third_order() {
    for seed in [4, 5] {
        let n = nets(seed);
        let mut rng = Rng::new(seed + 200);
        let e = n.g.input("e", &[C, B, D], DType::F64);
        let feeds = set(&n.feeds, &e, rng.vec(C * B * D, -1.0, 1.0));
        for f in [&n.energy, &n.coupling] {
            let jet = laplacian(
                std::slice::from_ref(f),
                std::slice::from_ref(&n.x),
                std::slice::from_ref(&e),
            )
            .unwrap()
            .remove(0);
            // Exact score matching's shape: −Δf + ½ Σ_k (e_kᵀ∇f)², summed over rows.
            let loss = (-&jet.laplacian).sum_all() + 0.5 * jet.tangents.square().sum_all();
            let grads = grad(&loss, &n.params).unwrap();
            verify(&n.g).unwrap();
            let got = eval(&grads, &feeds);
            for (p, gp) in n.params.iter().zip(&got) {
                let dir = rng.vec(p.numel(), -1.0, 1.0);
                let p0 = value_of(&feeds, p);
                let h = 1e-5;
                let at = |s: f64| {
                    let v: Vec<f64> = p0.iter().zip(&dir).map(|(a, d)| a + s * h * d).collect();
                    eval1(&loss, &set(&feeds, p, v))[0]
                };
                let fd = (at(1.0) - at(-1.0)) / (2.0 * h);
                let analytic: f64 = gp.data.iter().zip(&dir).map(|(a, b)| a * b).sum();
                assert_close(&[analytic], &[fd], 1e-6, "θ-gradient through the Laplacian vs FD");
            }
        }
    }
}

/// A graph with inputs x (B, D), w (D, 1) and directions e (C, B, D).
fn x_w_e() -> (Graph, Tensor, Tensor, Tensor) {
    let g = Graph::new();
    let x = g.input("x", &[B, D], DType::F64);
    let w = g.input("w", &[D, 1], DType::F64);
    let e = g.input("e", &[C, B, D], DType::F64);
    (g, x, w, e)
}

#[test]
fn symbolic_zeros_and_errors() {
    let (g, x, w, e) = x_w_e();
    // Affine in x: no Laplacian node is built (a zero constant at the boundary).
    let jet = laplacian(&[x.matmul(&w)], std::slice::from_ref(&x), std::slice::from_ref(&e))
        .unwrap()
        .remove(0);
    assert!(matches!(jet.laplacian.op(), scorematch_graph::Op::Constant { .. }));
    // Independent of x: zero tangents too.
    let jet = laplacian(&[w.exp()], std::slice::from_ref(&x), std::slice::from_ref(&e))
        .unwrap()
        .remove(0);
    assert_eq!(jet.tangents.shape(), &[C, D, 1]);
    assert!(matches!(jet.tangents.op(), scorematch_graph::Op::Constant { .. }));
    // stop_gradient and compare end the jet, whatever the values.
    let cut = x.exp().stop_gradient() + x.gt(&w.sum_all());
    let jet =
        laplacian(&[cut], std::slice::from_ref(&x), std::slice::from_ref(&e)).unwrap().remove(0);
    assert!(matches!(jet.laplacian.op(), scorematch_graph::Op::Constant { .. }));
    assert!(matches!(jet.tangents.op(), scorematch_graph::Op::Constant { .. }));
    // Directions must be (c, …x's shape).
    let bad = g.input("bad", &[C, D], DType::F64);
    let err = laplacian(&[x.exp()], &[x.clone()], &[bad]).unwrap_err().to_string();
    assert!(err.contains("laplacian") && err.contains("(c, …value shape)"), "{err}");
    let err = laplacian(&[x.exp()], &[x.clone()], &[]).unwrap_err().to_string();
    assert!(err.contains("1 primals but 0 direction tensors"), "{err}");
}

#[test]
fn directions_shared_by_every_row_are_multiplied_once() {
    let n = nets(6);
    let mut rng = Rng::new(600);
    let shared = n.g.input("shared", &[C, 1, D], DType::F64);
    let full = n.g.input("full", &[C, B, D], DType::F64);
    let sv = rng.vec(C * D, -1.0, 1.0);
    let fv: Vec<f64> = (0..C * B * D).map(|i| sv[(i / (B * D)) * D + i % D]).collect();
    let feeds = set(&set(&n.feeds, &shared, sv), &full, fv);
    let x = std::slice::from_ref(&n.x);
    let a =
        laplacian(&[n.energy.clone()], x, &[shared.broadcast_to(&[C, B, D])]).unwrap().remove(0);
    let b = laplacian(&[n.energy.clone()], x, &[full]).unwrap().remove(0);
    verify(&n.g).unwrap();
    // The first layer's tangent product is (C, D)·(D, H), not (C·B, D)·(D, H).
    let first = a.tangents.graph().with_nodes(|nodes| {
        nodes
            .iter()
            .any(|node| matches!(node.op, scorematch_graph::Op::Dot) && node.shape == [C, 5])
    });
    assert!(first, "the shared directions should be multiplied before the broadcast");
    let out = eval(&[a.tangents, a.laplacian, b.tangents, b.laplacian], &feeds);
    assert_close(&out[0].data, &out[2].data, 1e-13, "tangents, shared vs full directions");
    assert_close(&out[1].data, &out[3].data, 1e-13, "Laplacian, shared vs full directions");
}

#[test]
fn weight_gradient_through_the_summed_laplacian_matches_the_forward_laplacian() {
    for seed in [7, 8] {
        let n = nets(seed);
        let mut rng = Rng::new(seed + 300);
        let e = n.g.input("e", &[1, B, D], DType::F64);
        let feeds = set(&n.feeds, &e, rng.vec(B * D, -1.0, 1.0));
        let x = std::slice::from_ref(&n.x);
        for f in [&n.energy, &n.coupling] {
            // Sliced SM-VR's shape, −vᵀ∇²f v + ½‖∇f‖² summed over rows, built both ways.
            let summed = summed_laplacian(f, x, std::slice::from_ref(&e)).unwrap();
            let by_adjoints = -&summed.laplacian + 0.5 * summed.grads[0].square().sum_all();
            let jet =
                laplacian(std::slice::from_ref(f), x, std::slice::from_ref(&e)).unwrap().remove(0);
            let gx = grad(&f.sum_all(), x).unwrap().remove(0);
            let forward = (-&jet.laplacian).sum_all() + 0.5 * gx.square().sum_all();
            let mut outs = vec![by_adjoints.clone(), forward.clone()];
            outs.extend(grad(&by_adjoints, &n.params).unwrap());
            outs.extend(grad(&forward, &n.params).unwrap());
            verify(&n.g).unwrap();
            let got = eval(&outs, &feeds);
            assert_close(&got[0].data, &got[1].data, 1e-12, "loss, adjoints vs forward");
            let k = n.params.len();
            for i in 0..k {
                let what = format!("∂loss/∂p{i}, adjoints vs forward Laplacian");
                assert_close(&got[2 + i].data, &got[2 + k + i].data, 1e-11, &what);
            }
            assert!(got[2..2 + k].iter().any(|g| g.data.iter().any(|v| v.abs() > 1e-6)));
        }
    }
}

#[test]
fn summed_laplacian_zeros_and_errors() {
    let (g, x, w, e) = x_w_e();
    let x1 = std::slice::from_ref(&x);
    // Affine in x: no curvature anywhere, a zero constant; the gradient is still w, per row.
    let s = summed_laplacian(&x.matmul(&w), x1, std::slice::from_ref(&e)).unwrap();
    assert!(matches!(s.laplacian.op(), scorematch_graph::Op::Constant { .. }));
    assert_eq!(s.grads[0].shape(), &[B, D]);
    let wv = [0.5, -1.5, 2.0];
    let feeds = vec![(x.clone(), vec![0.1; B * D]), (w.clone(), wv.to_vec())];
    let out = eval(&[s.laplacian, s.grads[0].clone()], &feeds);
    assert_eq!(out[0].data, [0.0]);
    assert_close(&out[1].data, &[wv, wv].concat(), 1e-15, "∇Σ(x·w) = w on every row");
    let bad = g.input("bad", &[C, D], DType::F64);
    let err = summed_laplacian(&x.exp(), x1, &[bad]).unwrap_err().to_string();
    assert!(err.contains("summed_laplacian") && err.contains("(c, …value shape)"), "{err}");
    let err = summed_laplacian(&x.exp(), &[], &[]).unwrap_err().to_string();
    assert!(err.contains("no primals"), "{err}");
}
