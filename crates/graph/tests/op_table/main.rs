//! The op table, in the style of JAX's `check_grads`: one row per primitive and composite
//! with a builder (operands → output), operand shapes, a sampler that draws inputs inside
//! the op's domain (away from kinks, ties and singularities), an optional independent
//! reference for the values, and the derivative order to check.
//!
//! For every row, in f64 with the reference interpreter:
//!
//! 1. the shape rule agrees with the declared output shape and with the kernel's output;
//! 2. the values match the row's reference (written independently of the graph code);
//! 3. JVP agrees with central finite differences;
//! 4. VJP agrees with JVP through the identity ⟨ȳ, J·ẋ⟩ = ⟨Jᵀȳ, ẋ⟩ for random ȳ, ẋ;
//! 5. recursively, up to the row's order: the JVP output (a function of the primals with
//!    the tangent fixed, i.e. forward-over-forward) and the VJP output (a function of the
//!    primals with the cotangent fixed, i.e. reverse-over-anything) are checked again with
//!    1–4. Order 2 for every row, order 3 for the smooth activations and elementary maps.
//!
//! Rows whose derivative is zero almost everywhere (compare) also assert that the JVP and
//! VJP are *symbolic* zeros: a `Constant` 0 node, nothing materialised upstream.
//!
//! Layout: `checker` holds the row type, samplers, references and the checker; each family
//! module (`unary`, `binary`, `reduce_dot`, `layout`, `composite`) holds its rows, the
//! `#[test]` that checks them and its spot checks; this file assembles the table and holds
//! the whole-table and cross-family checks.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod checker;
mod composite;
mod layout;
mod reduce_dot;
mod unary;

use checker::{Family, Row, check_row, map1, row, s_real};
use common::{assert_close, eval};
use scorematch_graph::op::LiteralData;
use scorematch_graph::passes::verify;
use scorematch_graph::shape::numel;
use scorematch_graph::{BinaryOp, CmpOp, DType, Graph, Op, Tensor, UnaryOp, grad, hvp};

/// The whole table, family by family (each module holds its families' rows and checks).
fn table() -> Vec<Row> {
    let mut t = unary::rows();
    t.extend(binary::rows());
    t.extend(reduce_dot::rows());
    t.extend(layout::rows());
    t.extend(composite::rows());
    t
}

/// One op of every kind outside the elementwise tables (`Input` aside: every row feeds
/// inputs). The match has no wildcard, so a new `Op` variant does not compile here until
/// it is listed — and then `table_covers_every_op` asks for its row.
fn other_ops() -> Vec<Op> {
    let (shape, dtype) = (vec![1], DType::F64);
    let v = vec![0];
    let ops = vec![
        Op::Constant { bits: 0, shape: shape.clone(), dtype },
        Op::Literal { data: LiteralData(vec![0.0].into()), shape: shape.clone(), dtype },
        Op::Select,
        Op::ReduceSum { axes: v.clone() },
        Op::ReduceMax { axes: v.clone() },
        Op::Reshape { shape: shape.clone() },
        Op::Broadcast { shape: shape.clone() },
        Op::Transpose { perm: v.clone() },
        Op::Slice { lo: v.clone(), hi: shape.clone() },
        Op::Pad { lo: v.clone(), hi: v.clone() },
        Op::Concat { axis: 0 },
        Op::Dot,
        Op::Solve,
        Op::Convert { dtype },
        Op::StopGradient,
    ];
    for op in &ops {
        match op {
            Op::Input { .. } | Op::Unary(_) | Op::Binary(_) | Op::Compare(_) => {
                unreachable!("not listed: rows come from the tables' ALL lists")
            }
            Op::Constant { .. }
            | Op::Literal { .. }
            | Op::Select
            | Op::ReduceSum { .. }
            | Op::ReduceMax { .. }
            | Op::Reshape { .. }
            | Op::Broadcast { .. }
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Concat { .. }
            | Op::Dot
            | Op::Solve
            | Op::Convert { .. }
            | Op::StopGradient => {}
        }
    }
    ops
}

/// Every primitive has a row: each unary, binary and compare op by its exact name, taken
/// from the ops' own `ALL` lists (a new table row without a test row fails here), every
/// other op kind by name prefix; so do the composites of the design. The smooth ops are
/// checked to order 3.
#[test]
fn table_covers_every_op() {
    let t = table();
    let exact: Vec<&str> = UnaryOp::ALL
        .iter()
        .map(|u| u.name())
        .chain(BinaryOp::ALL.iter().map(|b| b.name()))
        .chain(CmpOp::ALL.iter().map(|c| c.name()))
        .collect();
    let missing: Vec<&str> =
        exact.iter().copied().filter(|n| !t.iter().any(|r| r.name == *n)).collect();
    assert!(missing.is_empty(), "op table lacks rows for primitives {missing:?}");
    let has = |prefix: &str| t.iter().any(|r| r.name.starts_with(prefix));
    let others: Vec<&str> = other_ops().iter().map(Op::name).collect();
    let composites = [
        "softplus_composite",
        "sigmoid_composite",
        "swish",
        "elu",
        "logsumexp",
        "square",
        "norm_l2",
        "norm_l1",
        "mean",
        "sum",
        "minimum",
        "matmul",
    ];
    let missing: Vec<&str> =
        others.iter().chain(&composites).copied().filter(|n| !has(n)).collect();
    assert!(missing.is_empty(), "op table lacks rows for {missing:?}");
    for smooth in ["tanh", "softplus", "exp", "log", "sigmoid", "swish"] {
        let r = t.iter().find(|r| r.name == smooth).expect("row exists");
        assert!(r.order >= 3, "{smooth} must be checked to order 3");
    }
    let names: std::collections::HashSet<&str> = t.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), t.len(), "duplicate row names");
}

/// The tables' `linear` flags are true: f(x + 2z) = f(x) + 2·f(z) exactly for the ops that
/// say so (the JVP rule relies on it), and visibly not for the others.
#[test]
fn linear_flags_are_true() {
    let g = Graph::new();
    let xs: Vec<Tensor> = (0..4).map(|k| g.input(&format!("x{k}"), &[6], DType::F64)).collect();
    let mut r = common::Rng::new(5);
    let feeds: Vec<(Tensor, Vec<f64>)> =
        xs.iter().map(|x| (x.clone(), (0..6).map(|_| r.uniform(-2.0, 2.0)).collect())).collect();
    let check = |name: &str, linear: bool, f: &dyn Fn(&Tensor, &Tensor) -> Tensor| {
        let lhs = f(&(&xs[0] + &(&xs[1] * 2.0)), &(&xs[2] + &(&xs[3] * 2.0)));
        let rhs = f(&xs[0], &xs[2]) + f(&xs[1], &xs[3]) * 2.0;
        let out = eval(&[lhs - rhs], &feeds);
        // NaN (an op outside its domain) counts as a gap: no linear map makes one.
        let gap = out[0]
            .data
            .iter()
            .fold(0.0f64, |m, v| if v.is_nan() { f64::INFINITY } else { m.max(v.abs()) });
        if linear {
            assert!(gap < 1e-12, "{name} is flagged linear, but f(x + 2z) − f(x) − 2f(z) = {gap}");
        } else {
            assert!(gap > 1e-3, "{name} is not flagged linear, but looks linear ({gap})");
        }
    };
    for &u in UnaryOp::ALL {
        check(u.name(), u.is_linear(), &|a, _| a.apply(Op::Unary(u), &[]));
    }
    for &b in BinaryOp::ALL {
        check(b.name(), b.is_linear(), &|a, c| a.apply(Op::Binary(b), &[c]));
    }
}

/// The checker itself must be able to fail: a deliberately wrong "derivative" (a function
/// whose JVP we perturb) is caught by the FD comparison, and a wrong reference is caught.
#[test]
fn checker_detects_wrong_values() {
    let wrong =
        row(Family::Unary, "exp_wrong_reference", &[&[2, 3]], &[2, 3], |x| x[0].exp(), s_real)
            .reference(|x| map1(x, |v| v.exp() * (1.0 + 1e-9)));
    assert!(check_row(&wrong, 3).is_err());
    let wrong_shape =
        row(Family::Unary, "exp_wrong_shape", &[&[2, 3]], &[3, 2], |x| x[0].exp(), s_real);
    assert!(check_row(&wrong_shape, 3).is_err());
    // A tie of max inside the FD step: JVP gives ȧ (ties go to a), FD gives |ȧ − ḃ|/2.
    let kink = row(
        Family::Binary,
        "max_at_tie",
        &[&[2, 3], &[2, 3]],
        &[2, 3],
        |x| x[0].maximum(&x[1]),
        |r, s| {
            let v = r.vec(numel(&s[0]), -2.0, 2.0);
            vec![v.clone(), v]
        },
    );
    let e = check_row(&kink, 3).expect_err("FD must disagree with jvp at the tie");
    assert!(e.contains("finite differences"), "{e}");
}

/// NaN must propagate through every primitive and composite (training stops on a non-finite
/// loss; a NaN silently turned into a number would hide a divergence).
#[test]
fn nan_propagates() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let one = x.ones_like();
    let outs = vec![
        x.maximum(&one),
        one.maximum(&x),
        x.minimum(&one),
        one.minimum(&x),
        x.softplus(),
        composite::softplus_composite(&x),
        x.elu(),
        x.sigmoid(),
        composite::sigmoid_composite(&x),
        x.swish(),
        x.abs(),
        x.max(&[0]),
        x.logsumexp(&[0]),
        x.norm_l2(&[0]),
    ];
    let out = eval(&outs, &[(x, vec![f64::NAN, f64::NAN])]);
    let names = [
        "max(NaN, 1)",
        "max(1, NaN)",
        "min(NaN, 1)",
        "min(1, NaN)",
        "softplus",
        "softplus composite",
        "elu",
        "sigmoid",
        "sigmoid composite",
        "swish",
        "abs",
        "reduce_max",
        "logsumexp",
        "norm_l2",
    ];
    let bad: Vec<String> = names
        .iter()
        .zip(&out)
        .filter(|(_, o)| !o.data.iter().all(|v| v.is_nan()))
        .map(|(n, o)| format!("{n} = {:?}", o.data))
        .collect();
    assert!(bad.is_empty(), "NaN swallowed: {bad:?}");
}

/// Empty axes and rank-0 tensors go through kernels, shape rules and derivatives.
#[test]
fn empty_and_scalar_shapes() {
    let g = Graph::new();
    let e = g.input("e", &[0, 3], DType::F64);
    let a = g.input("a", &[2, 0], DType::F64);
    let b = g.input("b", &[0, 3], DType::F64);
    let s = g.input("s", &[], DType::F64);
    let outs = vec![
        e.exp(),                                                                // [0, 3]
        e.sum(&[0]),                                                            // [3] zeros
        e.max(&[0]),                                                            // [3] −∞
        a.matmul(&b), // [2, 3] zeros (k = 0)
        Tensor::concat(&[e.clone(), e.ones_like().slice(&[0, 0], &[0, 3])], 0), // [0, 3]
        e.pad(&[1, 0], &[0, 0]), // [1, 3] zeros
        s.exp() * &s, // []
        s.broadcast_to(&[2, 2]), // [2, 2]
        s.reshape(&[1, 1]).sum_all(), // []
        e.mean_all(), // NaN (0/0), shape []
    ];
    let feeds =
        vec![(e.clone(), vec![]), (a.clone(), vec![]), (b.clone(), vec![]), (s.clone(), vec![0.5])];
    let out = eval(&outs, &feeds);
    let shapes: Vec<Vec<usize>> = out.iter().map(|o| o.shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![0, 3],
            vec![3],
            vec![3],
            vec![2, 3],
            vec![0, 3],
            vec![1, 3],
            vec![],
            vec![2, 2],
            vec![],
            vec![]
        ]
    );
    assert!(out[0].data.is_empty());
    assert_eq!(out[1].data, vec![0.0; 3]);
    assert_eq!(out[2].data, vec![f64::NEG_INFINITY; 3]);
    assert_eq!(out[3].data, vec![0.0; 6]);
    assert!(out[4].data.is_empty());
    assert_eq!(out[5].data, vec![0.0; 3]);
    assert_eq!(out[6].data, vec![0.5 * 0.5f64.exp()]);
    assert_eq!(out[7].data, vec![0.5; 4]);
    assert_eq!(out[8].data, vec![0.5]);
    assert!(out[9].data[0].is_nan());
    // Derivatives on empty and scalar operands.
    let ge = grad(&e.exp().sum_all(), std::slice::from_ref(&e)).unwrap().remove(0);
    let ga = grad(&a.matmul(&b).sum_all(), &[a.clone(), b.clone()]).unwrap();
    let gs = grad(&(s.exp() * &s), std::slice::from_ref(&s)).unwrap().remove(0);
    let hs = hvp(&(s.exp() * &s), &s, &s.ones_like()).unwrap();
    verify(&g).unwrap();
    let out = eval(&[ge, ga[0].clone(), ga[1].clone(), gs, hs], &feeds);
    assert_eq!(out[0].shape, vec![0, 3]);
    assert_eq!(out[1].shape, vec![2, 0]);
    assert_eq!(out[2].shape, vec![0, 3]);
    let ex = 0.5f64.exp();
    assert_close(&out[3].data, &[ex * 1.5], 1e-15, "d/ds s·eˢ");
    assert_close(&out[4].data, &[ex * 2.5], 1e-15, "d²/ds² s·eˢ");
}
