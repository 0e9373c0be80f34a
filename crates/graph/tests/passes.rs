//! Graph passes on seeded random expression graphs and on their derivatives:
//! `evaluate(g) ≈ evaluate(pass(g))` for dce, fold_constants, simplify and optimize; every
//! pass idempotent (a second application changes nothing: same nodes, same ops); the
//! verifier accepts every result; specific identities and constant subexpressions are
//! actually removed (node counts); hash-consing merges identical expressions.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Rng, assert_close, eval};
use scorematch_graph::passes::{dce, fold_constants, optimize, simplify, sink_transposes, verify};
use scorematch_graph::{BinaryOp, DType, Graph, Node, Op, Tensor, UnaryOp, grad, hvp};

/// `passes::fold::FOLD_LIMIT` (the module is private): largest literal a fold creates.
const FOLD_LIMIT: usize = 1 << 12;

type Feeds = Vec<(Tensor, Vec<f64>)>;
type Pass = fn(&[Tensor]) -> scorematch_graph::Result<Vec<Tensor>>;

const PASSES: [(&str, Pass); 4] = [
    ("dce", dce),
    ("fold_constants", fold_constants),
    ("simplify", simplify),
    ("optimize", optimize),
];

/// The arena of a graph, for comparing two results node for node.
fn snapshot(g: &Graph) -> Vec<Node> {
    g.with_nodes(|n| n.to_vec())
}

/// Feeds for the inputs of `g`, looked up by name in `feeds` (passes keep input names and
/// positions).
fn refeed(g: &Graph, feeds: &Feeds, old: &Graph) -> Feeds {
    let old_inputs = old.inputs();
    g.inputs()
        .into_iter()
        .filter_map(|(name, t)| {
            let (_, o) = old_inputs.iter().find(|(n, _)| *n == name)?;
            let (_, v) = feeds.iter().find(|(u, _)| u == o)?;
            Some((t, v.clone()))
        })
        .collect()
}

/// A random expression graph over three inputs, mixing safe nonlinear maps with patterns
/// the passes target (identities, constant subexpressions, layout round trips).
fn random_graph(seed: u64) -> (Graph, Vec<Tensor>, Vec<Tensor>, Feeds) {
    let mut r = Rng::new(seed);
    let g = Graph::new();
    let a = g.input("a", &[2, 3], DType::F64);
    let b = g.input("b", &[2, 3], DType::F64);
    let c = g.input("c", &[3], DType::F64);
    let unused = g.input("unused", &[4], DType::F64);
    let lit = g.literal(&[0.5, -1.0, 2.0, 0.25, 1.5, -0.75], &[2, 3], DType::F64).unwrap();
    let mut pool = vec![a.clone(), b.clone(), c.broadcast_to(&[2, 3]), lit.clone()];
    let steps = 12 + r.below(12);
    for _ in 0..steps {
        let x = pool[r.below(pool.len())].clone();
        let y = pool[r.below(pool.len())].clone();
        let k = g.constant([0.0, 1.0, -1.0, 2.5][r.below(4)], &[2, 3], DType::F64);
        let new = match r.below(16) {
            0 => match r.below(8) {
                0 => -&x,
                1 => x.tanh(),
                2 => x.sin(),
                3 => x.cos(),
                4 => x.abs(),
                5 => x.tanh().exp(),
                6 => (x.abs() + 1.0).sqrt(),
                _ => (&x * &x).log1p(),
            },
            1 => match r.below(5) {
                0 => &x + &y,
                1 => &x - &y,
                2 => (&x * &y).tanh(),
                3 => x.maximum(&y),
                _ => &x / (y.abs() + 1.0),
            },
            // Identities with constants: x·1, 1·x, x+0, 0+x, x−0, 0−x, x·0, x·(−1), x/1, 0/x.
            2 => match r.below(10) {
                0 => &x * 1.0,
                1 => 1.0 * &x,
                2 => &x + 0.0,
                3 => 0.0 + &x,
                4 => &x - 0.0,
                5 => 0.0 - &x,
                6 => &x * 0.0 + &y,
                7 => &x * -1.0,
                8 => &x / 1.0,
                _ => 0.0 / (x.abs() + 1.0) + &y,
            },
            3 => &x * &k + &y,
            4 => -(-&x),
            5 => x.reshape(&[3, 2]).reshape(&[6]).reshape(&[2, 3]),
            6 => {
                x.transpose(&[1, 0]).tanh().transpose(&[1, 0]).transpose(&[1, 0]).transpose(&[1, 0])
            }
            7 => match r.below(3) {
                0 => x.reduce_sum_keep(&[1]).broadcast_to(&[2, 3]),
                1 => x.reduce_max_keep(&[0]).broadcast_to(&[2, 3]),
                _ => x.reshape(&[2, 3, 1]).reduce_sum_keep(&[2]).reshape(&[2, 3]),
            },
            8 => match r.below(2) {
                0 => x.slice(&[0, 1], &[2, 3]).pad(&[0, 1], &[0, 0]),
                _ => Tensor::concat(&[x.narrow(1, 0, 1), x.narrow(1, 1, 3)], 1),
            },
            9 => match r.below(3) {
                0 => x.gt(&y).select(&x, &y),
                1 => x.gt(&y).select(&x, &x),
                _ => k.select(&x, &y),
            },
            10 => match r.below(2) {
                0 => x.stop_gradient(),
                _ => x.stop_gradient().stop_gradient(),
            },
            // Constant-only subexpressions.
            11 => {
                let k2 = g.scalar(0.5, DType::F64).broadcast_to(&[2, 3]);
                let sub = match r.below(3) {
                    0 => (&k * &k2).exp(),
                    1 => (&lit * 2.0 + &k).tanh(),
                    _ => lit.transpose(&[1, 0]).reshape(&[2, 3]).maximum(&k2),
                };
                &x + &sub
            }
            12 => (x.dot(&y.mt()) * 0.25).dot(&lit),
            // No-op primitives, applied raw (the API would skip them).
            13 => match r.below(4) {
                0 => x.apply(Op::Broadcast { shape: vec![2, 3] }, &[]),
                1 => x.apply(Op::Convert { dtype: DType::F64 }, &[]),
                2 => x.apply(Op::Concat { axis: 0 }, &[]),
                _ => x.apply(Op::Reshape { shape: vec![2, 3] }, &[]),
            },
            14 => x.convert(DType::F32).tanh().convert(DType::F64),
            _ => x.tanh(),
        };
        assert_eq!(new.shape(), &[2, 3]);
        pool.push(new);
    }
    let n = pool.len();
    let outputs = vec![pool[n - 1].clone(), pool[n - 2].clone(), pool[n / 2].sum_all()];
    let feeds: Feeds = vec![
        (a, r.vec(6, -1.5, 1.5)),
        (b, r.vec(6, -1.5, 1.5)),
        (c, r.vec(3, -1.5, 1.5)),
        (unused, r.vec(4, -1.0, 1.0)),
    ];
    verify(&g).unwrap();
    (g, vec![], outputs, feeds)
}

/// Checks one pass on one output set: values kept, verifier passes, idempotent.
fn check_pass(name: &str, pass: Pass, outputs: &[Tensor], feeds: &Feeds, ctx: &str) {
    let g = outputs[0].graph();
    let want = eval(outputs, feeds);
    let once = pass(outputs).unwrap_or_else(|e| panic!("{ctx}: {name} failed: {e}"));
    let g1 = once[0].graph().clone();
    verify(&g1).unwrap_or_else(|e| panic!("{ctx}: verify after {name}: {e}"));
    assert!(!g1.same(g), "{name} must rebuild into a fresh graph");
    let names: Vec<String> = g1.inputs().into_iter().map(|(n, _)| n).collect();
    let old_names: Vec<String> = g.inputs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, old_names, "{ctx}: {name} must keep every input, in order");
    let got = eval(&once, &refeed(&g1, feeds, g));
    for (i, (w, o)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.shape, o.shape, "{ctx}: {name} changed output {i}'s shape");
        assert_close(&o.data, &w.data, 1e-12, &format!("{ctx}: {name} output {i}"));
    }
    assert!(g1.len() <= g.len(), "{ctx}: {name} grew the graph");
    let twice = pass(&once).unwrap();
    let g2 = twice[0].graph().clone();
    verify(&g2).unwrap();
    let (s1, s2) = (snapshot(&g1), snapshot(&g2));
    assert_eq!(
        s1.len(),
        s2.len(),
        "{ctx}: {name} is not idempotent: {} nodes, then {}\nonce:  {:?}\ntwice: {:?}",
        s1.len(),
        s2.len(),
        s1.iter().map(|n| n.op.name()).collect::<Vec<_>>(),
        s2.iter().map(|n| n.op.name()).collect::<Vec<_>>()
    );
    assert_eq!(s1, s2, "{ctx}: {name} is not idempotent (same count, different nodes)");
    let ids1: Vec<_> = once.iter().map(Tensor::id).collect();
    let ids2: Vec<_> = twice.iter().map(Tensor::id).collect();
    assert_eq!(ids1, ids2, "{ctx}: {name}: outputs moved on the second application");
}

#[test]
fn random_graphs_keep_values_and_passes_are_idempotent() {
    for seed in 0..60 {
        let (_, _, outputs, feeds) = random_graph(seed);
        for (name, pass) in PASSES {
            check_pass(name, pass, &outputs, &feeds, &format!("seed {seed}"));
        }
    }
}

#[test]
fn passes_on_derivative_graphs() {
    for seed in 100..130 {
        let (g, _, outputs, feeds) = random_graph(seed);
        let inputs: Vec<Tensor> = g.inputs().into_iter().map(|(_, t)| t).collect();
        let y = (&outputs[0] * &outputs[1]).sum_all() + &outputs[2];
        let grads = grad(&y, &inputs).unwrap();
        let v = g.input("v", &[2, 3], DType::F64);
        let hv = hvp(&y, &inputs[0], &v).unwrap();
        verify(&g).unwrap();
        let mut feeds = feeds;
        feeds.push((v, Rng::new(seed).vec(6, -1.0, 1.0)));
        let mut outs = grads;
        outs.push(hv);
        outs.push(y);
        for (name, pass) in PASSES {
            check_pass(name, pass, &outs, &feeds, &format!("derivatives, seed {seed}"));
        }
        // The optimizer removes the zeros and ones autodiff leaves behind.
        let opt = optimize(&outs).unwrap();
        assert!(
            opt[0].graph().len() < dce(&outs).unwrap()[0].graph().len(),
            "seed {seed}: optimize removed nothing"
        );
    }
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.with_nodes(|n| n.iter().filter(|n| pred(&n.op)).count())
}

/// Applies `pass` to `y` and returns the result and its graph's node count.
fn after(pass: Pass, y: &Tensor) -> (Tensor, usize) {
    let out = pass(std::slice::from_ref(y)).unwrap().remove(0);
    verify(out.graph()).unwrap();
    let n = out.graph().len();
    (out, n)
}

#[test]
fn simplify_removes_identities() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    let cases: Vec<(&str, Tensor)> = vec![
        ("x*1", &x * 1.0),
        ("1*x", 1.0 * &x),
        ("x+0", &x + 0.0),
        ("0+x", 0.0 + &x),
        ("x-0", &x - 0.0),
        ("x/1", &x / 1.0),
        ("-(-x)", -(-&x)),
        ("reshape∘reshape", x.reshape(&[3, 2]).reshape(&[6]).reshape(&[2, 3])),
        ("transpose∘transpose", x.transpose(&[1, 0]).transpose(&[1, 0])),
        ("broadcast to own shape", x.apply(Op::Broadcast { shape: vec![2, 3] }, &[])),
        ("convert to own dtype", x.apply(Op::Convert { dtype: DType::F64 }, &[])),
        ("reduce over size-1 axes", x.reshape(&[2, 1, 3]).reduce_sum_keep(&[1]).reshape(&[2, 3])),
        ("select(c, x, x)", x.gt(&x.zeros_like()).select(&x, &x)),
        ("select(1, x, y)", x.ones_like().select(&x, &x.exp())),
        ("concat of one", x.apply(Op::Concat { axis: 1 }, &[])),
        ("((x*1)+0)/1", (&x * 1.0 + 0.0) / 1.0),
    ];
    for (name, y) in cases {
        let y = y.tanh();
        let (out, n) = after(simplify, &y);
        // What remains is the input and tanh: 2 nodes, the tanh applied to the input itself.
        assert_eq!(
            n,
            2,
            "{name}: {:?}",
            snapshot(out.graph()).iter().map(|n| n.op.name()).collect::<Vec<_>>()
        );
        assert_eq!(out.op(), Op::Unary(UnaryOp::Tanh), "{name}");
        assert!(matches!(out.operands()[0].op(), Op::Input { .. }), "{name}");
    }
    // Rewrites to something smaller, not to nothing.
    let y = (&x * 0.0).exp();
    let (out, _) = after(simplify, &y);
    assert!(matches!(out.operands()[0].op(), Op::Constant { bits, .. } if bits == 0f64.to_bits()));
    let (out, n) = after(simplify, &(0.0 - &x));
    assert_eq!(out.op(), Op::Unary(UnaryOp::Neg));
    assert_eq!(n, 2);
    let (out, n) = after(simplify, &(&x * -1.0));
    assert_eq!(out.op(), Op::Unary(UnaryOp::Neg));
    assert_eq!(n, 2);
    // stop_gradient(stop_gradient(x)) → one stop_gradient.
    let (out, n) = after(simplify, &x.stop_gradient().stop_gradient());
    assert_eq!(out.op(), Op::StopGradient);
    assert_eq!(n, 2);
    // transpose∘transpose into one combined permutation.
    let x3 = g.input("x3", &[2, 3, 4], DType::F64);
    let t = x3.transpose(&[2, 0, 1]).transpose(&[0, 2, 1]);
    let (out, _) = after(simplify, &t);
    assert_eq!(out.op(), Op::Transpose { perm: vec![2, 1, 0] });
    let v: Vec<f64> = (0..24).map(f64::from).collect();
    let direct = eval(&[t], &[(x3.clone(), v.clone())]);
    let x3n = out.graph().inputs()[1].1.clone();
    let simp = eval(std::slice::from_ref(&out), &[(x3n, v)]);
    assert_eq!(direct[0].data, simp[0].data);
    assert_eq!(direct[0].shape, vec![4, 3, 2]);
}

/// Rewrites that produce a node another rewrite would simplify must still reach the fixed
/// point in one application.
#[test]
fn simplify_chains_of_identities_in_one_pass() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let cases: Vec<(&str, Tensor)> = vec![
        ("0 - (-x)", 0.0 - (-&x)),
        ("(-x)·(−1)", (-&x) * -1.0),
        ("(−1)·(−x)", -1.0 * (-&x)),
        ("-(0 - x)", -(0.0 - &x)),
        ("-(x·(−1))", -(&x * -1.0)),
    ];
    for (name, y) in cases {
        let y = y.exp();
        let (out, n) = after(simplify, &y);
        assert_eq!(
            n,
            2,
            "{name}: {:?}",
            snapshot(out.graph()).iter().map(|n| n.op.name()).collect::<Vec<_>>()
        );
        assert!(matches!(out.operands()[0].op(), Op::Input { .. }), "{name}");
    }
}

#[test]
fn fold_constants_replaces_constant_subexpressions() {
    let g = Graph::new();
    let x = g.input("x", &[2, 2], DType::F64);
    let k = g.constant(3.0, &[2, 2], DType::F64);
    let l = g.literal(&[1.0, 2.0, 3.0, 4.0], &[2, 2], DType::F64).unwrap();
    // Uniform result → a constant fill.
    let y = &x + (&k * 2.0).exp();
    let (out, n) = after(fold_constants, &y);
    assert_eq!(n, 3, "x, the folded constant, the add");
    let folded = out.operands()[1].clone();
    assert_eq!(
        folded.op(),
        Op::Constant { bits: 6f64.exp().to_bits(), shape: vec![2, 2], dtype: DType::F64 }
    );
    // Non-uniform result → a literal with the kernel's values.
    let y = &x * (l.transpose(&[1, 0]) + &k).sqrt();
    let (out, n) = after(fold_constants, &y);
    assert_eq!(n, 3);
    match out.operands()[1].op() {
        Op::Literal { data, shape, .. } => {
            assert_eq!(shape, vec![2, 2]);
            let want: Vec<f64> =
                [1.0, 3.0, 2.0, 4.0].iter().map(|v: &f64| (v + 3.0).sqrt()).collect();
            assert_eq!(&*data.0, want.as_slice());
        }
        op => panic!("expected a literal, got {op:?}"),
    }
    // Reductions, comparisons, selects and dots of constants fold too.
    // (Grouped: folding does not reassociate (x + A) + B.)
    let y =
        &x + (l.reduce_sum_keep(&[0]).broadcast_to(&[2, 2]) + l.gt(&k).select(&l, &k) + l.dot(&l));
    let (out, n) = after(fold_constants, &y);
    assert_eq!(n, 3, "{:?}", snapshot(out.graph()).iter().map(|n| n.op.name()).collect::<Vec<_>>());
    let xs = vec![0.5, -0.5, 1.0, 2.0];
    let want = eval(std::slice::from_ref(&y), &[(x.clone(), xs.clone())]);
    let got = eval(std::slice::from_ref(&out), &[(out.graph().inputs()[0].1.clone(), xs)]);
    assert_eq!(want[0].data, got[0].data);
    // stop_gradient of a constant is kept (it carries meaning for autodiff), inputs never fold.
    let (out, _) = after(fold_constants, &(&x + k.stop_gradient()));
    assert_eq!(out.operands()[1].op(), Op::StopGradient);
    // Large uniform results fold to a fill without materialising; large non-uniform don't.
    let big = g.constant(1.5, &[FOLD_LIMIT + 1], DType::F64);
    let (out, n) = after(fold_constants, &big.exp());
    assert_eq!(n, 2, "the (kept) input x and the folded fill");
    assert_eq!(
        out.op(),
        Op::Constant {
            bits: 1.5f64.exp().to_bits(),
            shape: vec![FOLD_LIMIT + 1],
            dtype: DType::F64
        }
    );
    let vals: Vec<f64> = (0..FOLD_LIMIT + 1).map(|i| i as f64).collect();
    let lb = g.literal(&vals, &[FOLD_LIMIT + 1], DType::F64).unwrap();
    let (out, _) = after(fold_constants, &(&lb * 2.0));
    assert_eq!(out.op(), Op::Binary(BinaryOp::Mul), "large non-uniform result left to run time");
    let bb = g.scalar(2.0, DType::F64).broadcast_to(&[80, 80]);
    let (out, n) = after(fold_constants, &bb);
    assert_eq!(n, 2);
    assert_eq!(
        out.op(),
        Op::Constant { bits: 2f64.to_bits(), shape: vec![80, 80], dtype: DType::F64 }
    );
}

#[test]
fn optimize_reaches_a_fixed_point_across_fold_and_simplify() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let k = g.constant(2.0, &[3], DType::F64);
    // (k − k) folds to 0, then x·0 simplifies to 0, then exp(0) must fold to 1.
    let y = (&x * (&k - &k)).exp() + &x;
    // select on a folded condition exposes a constant branch to fold further.
    let z = k.gt(&x.zeros_like()).select(&k, &x).exp() * &x;
    for (name, t) in [("exp(x·(k−k)) + x", y), ("exp(select(k>0, k, x))·x", z)] {
        let once = optimize(std::slice::from_ref(&t)).unwrap();
        verify(once[0].graph()).unwrap();
        assert_eq!(
            once[0].graph().len(),
            3,
            "{name}: {:?}",
            snapshot(once[0].graph()).iter().map(|n| n.op.name()).collect::<Vec<_>>()
        );
        assert_eq!(count(once[0].graph(), |o| matches!(o, Op::Unary(UnaryOp::Exp))), 0, "{name}");
        let xs = vec![0.3, -0.7, 1.1];
        let a = eval(std::slice::from_ref(&t), &[(x.clone(), xs.clone())]);
        let b = eval(&once, &[(once[0].graph().inputs()[0].1.clone(), xs)]);
        assert_close(&b[0].data, &a[0].data, 1e-15, name);
    }
}

#[test]
fn dce_keeps_ancestors_and_every_input() {
    let g = Graph::new();
    let a = g.input("a", &[2], DType::F64);
    let b = g.input("b", &[2], DType::F64);
    let y = a.exp();
    let _dead = (&a * &b).sin().cos();
    let _dead2 = b.tanh();
    let before = g.len();
    let (out, n) = after(dce, &y);
    assert!(before >= 7);
    assert_eq!(n, 3, "a, b (kept for stable input positions), exp");
    let ins = out.graph().inputs();
    assert_eq!(ins.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(ins[0].1.op(), Op::Input { index: 0, shape: vec![2], dtype: DType::F64 });
    assert_eq!(out.op(), Op::Unary(UnaryOp::Exp));
    // dce of nothing is nothing.
    assert!(dce(&[]).unwrap().is_empty());
}

#[test]
fn hash_consing_merges_identical_expressions() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    let w = g.input("w", &[3, 4], DType::F64);
    let build = || (x.matmul(&w).tanh() * 2.0 + 1.0).sum(&[1]).exp();
    let first = build();
    let n = g.len();
    let second = build();
    assert_eq!(first.id(), second.id());
    assert_eq!(first, second);
    assert_eq!(g.len(), n, "rebuilding an existing expression adds no node");
    // Same op and operands → same node; operand order matters; params matter.
    assert_eq!((&x + &x).id(), (&x + &x).id());
    let y = g.input("y", &[2, 3], DType::F64);
    assert_ne!((&x + &y).id(), (&y + &x).id());
    assert_ne!(x.reduce_sum_keep(&[0]).id(), x.reduce_sum_keep(&[1]).id());
    // Inputs are never merged, even with equal names and shapes.
    let x2 = g.input("x", &[2, 3], DType::F64);
    assert_ne!(x.id(), x2.id());
    // Autodiff reuses shared intermediates: grad of tanh(x)² and its value share tanh(x).
    let t = x.tanh();
    let s = t.square().sum_all();
    let before = g.len();
    let d = grad(&s, std::slice::from_ref(&x)).unwrap().remove(0);
    let again = grad(&s, std::slice::from_ref(&x)).unwrap().remove(0);
    assert_eq!(d.id(), again.id(), "a second identical transform builds nothing new");
    assert!(g.len() > before);
    verify(&g).unwrap();
}

/// Passes keep the derivative semantics too (stop_gradient, masks, zeros): the gradient of
/// the optimised graph equals the gradient of the original.
#[test]
fn passes_commute_with_grad() {
    for seed in 200..230 {
        let (g, _, outputs, feeds) = random_graph(seed);
        let y = (&outputs[0] * &outputs[1]).sum_all() + &outputs[2];
        let inputs: Vec<Tensor> = g.inputs().into_iter().map(|(_, t)| t).collect();
        let want = eval(&grad(&y, &inputs).unwrap(), &feeds);
        for (name, pass) in PASSES {
            let y2 = pass(std::slice::from_ref(&y)).unwrap().remove(0);
            let g2 = y2.graph().clone();
            let inputs2: Vec<Tensor> = g2.inputs().into_iter().map(|(_, t)| t).collect();
            let grads2 = grad(&y2, &inputs2).unwrap();
            verify(&g2).unwrap();
            let got = eval(&grads2, &refeed(&g2, &feeds, &g));
            for (i, (w, o)) in want.iter().zip(&got).enumerate() {
                assert_close(
                    &o.data,
                    &w.data,
                    1e-12,
                    &format!("seed {seed}: grad after {name}, input {i}"),
                );
            }
        }
    }
}

/// Transpose sinking keeps values, removes the `mt`s it promises to (of a product, of an
/// elementwise node over products and constants, of an `mt`), leaves an `mt` of a product
/// read elsewhere alone, and returns the outputs themselves when nothing applies.
#[test]
fn sink_transposes_moves_mt_onto_producers() {
    let g = Graph::new();
    let a = g.input("a", &[3, 4], DType::F64);
    let b = g.input("b", &[4, 5], DType::F64);
    let c = g.input("c", &[5, 3], DType::F64);
    let ab = a.matmul(&b);
    let shared = b.mt().matmul(&a.mt()); // [5, 3], also read by an output
    let outs =
        vec![ab.mt(), (((&a * 0.5).matmul(&b) * 2.0) + c.mt()).mt(), shared.mt(), shared.exp()];
    let mut r = Rng::new(11);
    let feeds: Feeds = [&a, &b, &c]
        .iter()
        .map(|t| ((*t).clone(), (0..t.numel()).map(|_| r.uniform(-2.0, 2.0)).collect()))
        .collect();
    let want = eval(&outs, &feeds);
    let sunk = sink_transposes(&outs).unwrap();
    let g1 = sunk[0].graph().clone();
    verify(&g1).unwrap();
    let got = eval(&sunk, &refeed(&g1, &feeds, &g));
    for (i, (w, o)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.shape, o.shape);
        assert_close(&o.data, &w.data, 1e-12, &format!("sink_transposes output {i}"));
    }
    // Output 0 becomes bᵀ·aᵀ, output 1 a product-and-add over transposed operands with
    // c's transposes cancelled; output 2 (shared product) keeps its transpose.
    assert_eq!(sunk[0].op(), Op::Dot);
    assert_eq!(sunk[1].op(), Op::Binary(BinaryOp::Add));
    assert!(
        sunk[1]
            .operands()
            .iter()
            .any(|t| t.op() == Op::Input { index: 2, shape: vec![5, 3], dtype: DType::F64 })
    );
    assert!(sunk[2].op().is_matrix_transpose());
    // Nothing to sink: the very same tensors come back.
    let plain = vec![a.matmul(&b).exp(), c.mt()];
    let same = sink_transposes(&plain).unwrap();
    assert!(same.iter().zip(&plain).all(|(p, q)| p == q));
}
