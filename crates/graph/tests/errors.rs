//! Errors name the op and the shapes (graph building), or the input (evaluation); mixing
//! graphs is an error, never a wrong answer or a panic.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use scorematch_graph::passes::{dce, optimize, simplify};
use scorematch_graph::{BinaryOp, DType, Graph, GraphError, NodeId, Op, Tensor, evaluate};

fn msg<T: std::fmt::Debug>(r: Result<T, GraphError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[track_caller]
fn has_all(m: &str, parts: &[&str]) {
    for p in parts {
        assert!(m.contains(p), "message {m:?} lacks {p:?}");
    }
}

#[test]
fn matmul_shape_errors_name_op_and_shapes() {
    let g = Graph::new();
    let a = g.input("a", &[2, 3], DType::F64);
    let b = g.input("b", &[4, 5], DType::F64);
    let m = msg(a.try_matmul(&b));
    assert!(m.contains("dot") || m.contains("matmul"), "{m}");
    has_all(&m, &["[2, 3]", "[4, 5]"]);
    assert!(matches!(a.try_matmul(&b), Err(GraphError::Shape { .. })));
    // Batch axes that do not broadcast.
    let p = g.input("p", &[2, 3, 4], DType::F64);
    let q = g.input("q", &[3, 4, 5], DType::F64);
    has_all(&msg(p.try_matmul(&q)), &["matmul", "[2, 3, 4]", "[3, 4, 5]", "batch"]);
    // A scalar operand.
    let s = g.scalar(1.0, DType::F64);
    has_all(&msg(s.try_matmul(&a)), &["matmul", "[]", "[2, 3]"]);
    // 1-D operands of mismatched length.
    let u = g.input("u", &[3], DType::F64);
    let w = g.input("w", &[4], DType::F64);
    has_all(&msg(u.try_matmul(&w)), &["dot", "[1, 3]", "[4, 1]"]);
    // The raw dot primitive: equal ranks ≥ 2 and equal batch axes.
    has_all(&msg(u.try_apply(Op::Dot, &[&w])), &["dot", "[3]", "[4]"]);
    has_all(&msg(p.try_apply(Op::Dot, &[&a])), &["dot", "[2, 3, 4]", "[2, 3]"]);
    // Nothing was added to the graph by the failures (only the operands above exist).
    let before = g.len();
    let _ = a.try_matmul(&b);
    assert_eq!(g.len(), before);
}

#[test]
fn elementwise_and_layout_errors_name_op_and_shapes() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    let y = g.input("y", &[4], DType::F64);
    has_all(&msg(x.try_binary(BinaryOp::Add, &y)), &["broadcast", "[2, 3]", "[4]"]);
    has_all(&msg(x.try_apply(Op::Binary(BinaryOp::Mul), &[&y])), &["mul", "[2, 3]", "[4]"]);
    has_all(&msg(x.try_reshape(&[4])), &["reshape", "[2, 3]", "[4]"]);
    has_all(&msg(x.try_broadcast_to(&[3])), &["broadcast", "[2, 3]", "[3]"]);
    has_all(&msg(x.try_broadcast_to(&[4, 3])), &["broadcast", "[2, 3]", "[4, 3]"]);
    has_all(
        &msg(x.try_apply(Op::Transpose { perm: vec![0, 0] }, &[])),
        &["transpose", "[0, 0]", "[2, 3]"],
    );
    has_all(
        &msg(x.try_apply(Op::Transpose { perm: vec![1, 0, 2] }, &[])),
        &["transpose", "[1, 0, 2]"],
    );
    has_all(
        &msg(x.try_apply(Op::Slice { lo: vec![0, 2], hi: vec![2, 4] }, &[])),
        &["slice", "[2, 3]", "[0, 2]", "[2, 4]"],
    );
    has_all(
        &msg(x.try_apply(Op::Slice { lo: vec![1, 0], hi: vec![0, 3] }, &[])),
        &["slice", "[1, 0]", "[0, 3]"],
    );
    has_all(&msg(x.try_apply(Op::Pad { lo: vec![1], hi: vec![1] }, &[])), &["pad", "[2, 3]"]);
    has_all(
        &msg(x.try_apply(Op::ReduceSum { axes: vec![1, 1] }, &[])),
        &["reduce_sum", "[2, 3]", "[1, 1]"],
    );
    has_all(
        &msg(x.try_apply(Op::ReduceMax { axes: vec![2] }, &[])),
        &["reduce_max", "[2, 3]", "[2]"],
    );
    let z = g.input("z", &[3, 3], DType::F64);
    has_all(
        &msg(Tensor::try_concat(&[x.clone(), z.clone()], 1)),
        &["concat", "[2, 3]", "[3, 3]", "axis 1"],
    );
    has_all(&msg(Tensor::try_concat(&[x.clone(), x.clone()], 2)), &["concat", "axis 2"]);
    has_all(&msg(Tensor::try_concat(&[], 0)), &["concat", "no operands"]);
    has_all(
        &msg(g.literal(&[1.0, 2.0, 3.0], &[2, 2], DType::F64)),
        &["literal", "3 values", "[2, 2]"],
    );
    // Arity.
    has_all(
        &msg(g.apply(Op::Binary(BinaryOp::Add), &[x.id()])),
        &["add", "expected 2 operands, got 1"],
    );
    has_all(
        &msg(g.apply(Op::Select, &[x.id(), x.id()])),
        &["select", "expected 3 operands, got 2"],
    );
}

#[test]
#[should_panic(expected = "axis 5 out of range")]
fn panicking_forms_panic_with_the_error_message() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    let _ = x.sum(&[5]);
}

#[test]
fn dtype_and_graph_mixing_errors() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let y = g.input("y", &[2], DType::F32);
    let e = x.try_binary(BinaryOp::Add, &y).expect_err("f64 + f32");
    assert!(
        matches!(e, GraphError::DType { op: "add", lhs: DType::F64, rhs: DType::F32 }),
        "{e:?}"
    );
    has_all(&e.to_string(), &["add", "f64", "f32", "convert"]);
    let c = g.input("c", &[2], DType::F32);
    has_all(&msg(c.try_apply(Op::Select, &[&x, &x])), &["select", "f32", "f64"]);
    // Tensors of two graphs.
    let h = Graph::new();
    let xh = h.input("x", &[2], DType::F64);
    let e = x.try_binary(BinaryOp::Mul, &xh).expect_err("foreign graph");
    assert_eq!(e, GraphError::ForeignGraph("mul"));
    has_all(&e.to_string(), &["mul", "different graphs"]);
    assert!(Tensor::try_concat(&[x.clone(), xh.clone()], 0).is_err());
}

#[test]
fn operand_ids_outside_the_graph_are_an_error_not_a_panic() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let e =
        g.apply(Op::Unary(scorematch_graph::UnaryOp::Exp), &[NodeId(57)]).expect_err("no node 57");
    has_all(&e.to_string(), &["exp", "57"]);
    assert!(
        g.apply(Op::Binary(BinaryOp::Add), &[x.id(), NodeId(1)]).is_err(),
        "node 1 doesn't exist yet"
    );
    assert_eq!(g.len(), 1);
}

#[test]
fn evaluate_names_missing_and_misfed_inputs() {
    let g = Graph::new();
    let x = g.input("features", &[2, 3], DType::F64);
    let w = g.input("weights", &[3], DType::F64);
    let unused = g.input("unused", &[7], DType::F64);
    let y = x.matmul(&w).tanh();
    // Missing feed.
    let e = evaluate(std::slice::from_ref(&y), &[(&x, &[0.0; 6])]).expect_err("weights not fed");
    assert!(matches!(&e, GraphError::Feed { name, .. } if name == "weights"), "{e:?}");
    has_all(&e.to_string(), &["input weights", "not fed"]);
    // Wrong length.
    let e = evaluate(std::slice::from_ref(&y), &[(&x, &[0.0; 5]), (&w, &[0.0; 3])])
        .expect_err("5 values");
    assert!(matches!(&e, GraphError::Feed { name, .. } if name == "features"), "{e:?}");
    has_all(&e.to_string(), &["features", "5 values", "[2, 3]"]);
    // Feeding a non-input node, or an input of another graph.
    let e =
        evaluate(std::slice::from_ref(&y), &[(&x, &[0.0; 6]), (&w, &[0.0; 3]), (&y, &[0.0; 2])])
            .expect_err("y is not an input");
    assert!(matches!(e, GraphError::Feed { .. }), "{e:?}");
    has_all(&e.to_string(), &["only input nodes"]);
    let h = Graph::new();
    let xh = h.input("features", &[2, 3], DType::F64);
    let e = evaluate(std::slice::from_ref(&y), &[(&xh, &[0.0; 6]), (&w, &[0.0; 3])])
        .expect_err("foreign feed");
    assert!(matches!(e, GraphError::Feed { .. }), "{e:?}");
    // An unneeded input may stay unfed, and the values are right.
    let out = evaluate(
        std::slice::from_ref(&y),
        &[(&x, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), (&w, &[0.5, -0.25, 2.0])],
    )
    .expect("unused input needn't be fed");
    assert_eq!(out[0].shape, vec![2]);
    assert_eq!(out[0].data, vec![0.5f64.tanh(), (-0.25f64).tanh()]);
    let _ = unused;
    // No outputs, no work.
    assert!(evaluate(&[], &[]).expect("empty").is_empty());
}

#[test]
fn outputs_from_two_graphs_are_rejected() {
    let g = Graph::new();
    let a = g.input("a", &[2], DType::F64);
    let ya = a.exp();
    let _pad = (&a * 3.0).sin().cos(); // more nodes in g than in h: ids overlap
    let h = Graph::new();
    let b = h.input("b", &[2], DType::F64);
    let yb = b.tanh();
    let e = evaluate(&[ya.clone(), yb.clone()], &[(&a, &[1.0, 2.0]), (&b, &[3.0, 4.0])])
        .expect_err("outputs of two graphs");
    assert!(matches!(e, GraphError::Feed { .. } | GraphError::ForeignGraph(_)), "{e:?}");
    // With no feed of the other graph to trip on: an input-free output of h whose id is a
    // node of g must not silently read g's value.
    let kb = h.scalar(2.0, DType::F64).exp();
    assert!(kb.id().index() < g.len());
    let e = evaluate(&[ya.clone(), kb.clone()], &[(&a, &[1.0, 2.0])])
        .expect_err("outputs of two graphs");
    has_all(&e.to_string(), &["evaluate", "different graphs"]);
    for pass in [dce, simplify, optimize] {
        let e = pass(&[ya.clone(), yb.clone()]).expect_err("pass over two graphs");
        has_all(&e.to_string(), &["different graphs"]);
    }
}
