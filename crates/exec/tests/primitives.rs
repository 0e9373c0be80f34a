//! Every primitive, compiled, against the reference interpreter over edge-case shapes:
//! empty, one element, odd sizes, sizes around the threading and tiling thresholds, large.
//! Each case runs in f64 and f32, on 1 and 2 threads, with and without the optimiser.
//! The elementwise ops are iterated from the graph's own lists (`UnaryOp::ALL`, …), so a
//! new op is tested here without a line of its own.
#![allow(clippy::unwrap_used)]

mod common;

use common::check;
use scorematch_exec::{CompileOptions, PAR_MIN_ELEMS};
use scorematch_graph::{
    BinaryOp, CmpOp, DType, Element, Graph, Op, Operand, Tensor, UnaryOp, grad,
};

/// Shapes for elementwise kernels, around the parallel threshold too.
fn ew_shapes() -> Vec<Vec<usize>> {
    vec![
        vec![],
        vec![0],
        vec![1],
        vec![7],
        vec![3, 5],
        vec![2, 0, 3],
        vec![PAR_MIN_ELEMS - 1],
        vec![PAR_MIN_ELEMS],
        vec![3, PAR_MIN_ELEMS / 2 + 5],
    ]
}

#[test]
fn unary_ops() {
    for &u in UnaryOp::ALL {
        for s in ew_shapes() {
            check(&format!("{} {s:?}", u.name()), |g, dt| {
                let x = g.input("pos_x", &s, dt);
                let y = x.apply(Op::Unary(u), &[]);
                (vec![x], vec![y])
            });
        }
    }
}

/// Whether `u` is defined on all of [-2, 2]. No wildcard: a new op must say.
fn defined_on_signed(u: UnaryOp) -> bool {
    match u {
        UnaryOp::Neg | UnaryOp::Exp | UnaryOp::Tanh | UnaryOp::Abs => true,
        UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Softplus | UnaryOp::Sigmoid => true,
        UnaryOp::Log | UnaryOp::Log1p | UnaryOp::Sqrt | UnaryOp::Recip => false,
    }
}

#[test]
fn unary_on_signed_inputs() {
    for &u in UnaryOp::ALL.iter().filter(|&&u| defined_on_signed(u)) {
        check(&format!("{} signed", u.name()), |g, dt| {
            let x = g.input("x", &[13, 9], dt);
            (vec![x.clone()], vec![x.apply(Op::Unary(u), &[])])
        });
    }
}

#[test]
fn binary_ops() {
    for &b in BinaryOp::ALL {
        for s in ew_shapes() {
            check(&format!("{} {s:?}", b.name()), |g, dt| {
                let x = g.input("x", &s, dt);
                let y = g.input("pos_y", &s, dt);
                (vec![x.clone(), y.clone()], vec![x.apply(Op::Binary(b), &[&y])])
            });
        }
    }
    // max with ties
    check("max ties", |g, dt| {
        let x = g.input("int_x", &[50], dt);
        let y = g.input("int_y", &[50], dt);
        (vec![x.clone(), y.clone()], vec![x.maximum(&y)])
    });
}

#[test]
fn compare_and_select() {
    for &c in CmpOp::ALL {
        for s in [vec![0], vec![1], vec![5, 7], vec![PAR_MIN_ELEMS + 1]] {
            check(&format!("{} {s:?}", c.name()), |g, dt| {
                let x = g.input("int_x", &s, dt);
                let y = g.input("int_y", &s, dt);
                (vec![x.clone(), y.clone()], vec![x.apply(Op::Compare(c), &[&y])])
            });
        }
    }
    for s in [vec![0], vec![1], vec![4, 9], vec![PAR_MIN_ELEMS + 7]] {
        check(&format!("select {s:?}"), |g, dt| {
            let c = g.input("int_c", &s, dt);
            let a = g.input("a", &s, dt);
            let b = g.input("b", &s, dt);
            let y = c.apply(Op::Select, &[&a, &b]);
            (vec![c, a, b], vec![y])
        });
    }
}

/// Every elementwise op alone in a program over `T`: whether it ran its reference kernel
/// (`ProgramStats::reference_elementwise`), and when it did, that the output is bit for bit
/// the graph crate's reference kernel run over `T`. Returns the ops that ran a fast kernel.
fn fallback_is_the_reference_kernel<T: Element>() -> Vec<Op> {
    let mut ops: Vec<Op> = UnaryOp::ALL.iter().map(|&u| Op::Unary(u)).collect();
    ops.extend(BinaryOp::ALL.iter().map(|&b| Op::Binary(b)));
    ops.extend(CmpOp::ALL.iter().map(|&c| Op::Compare(c)));
    ops.push(Op::Select);
    let n = 3 * 2048 + 5; // several chunks and a tail
    let mut fast = Vec::new();
    for op in ops {
        let g = Graph::new();
        let arity = match op {
            Op::Unary(_) => 1,
            Op::Select => 3,
            _ => 2,
        };
        let ins: Vec<Tensor> =
            (0..arity).map(|k| g.input(&format!("pos_{k}"), &[n], T::DTYPE)).collect();
        let rest: Vec<&Tensor> = ins[1..].iter().collect();
        let y = ins[0].apply(op.clone(), &rest);
        let data = common::feeds(&ins, T::DTYPE, 7);
        let (p, got) = common::run_program::<T>(&ins, &[y], &data, &CompileOptions::default());
        match p.stats().reference_elementwise {
            0 => fast.push(op),
            1 => {
                let typed: Vec<Vec<T>> =
                    data.iter().map(|d| d.iter().map(|&v| T::from_f64(v)).collect()).collect();
                let shape = [n];
                let operands: Vec<Operand<T>> =
                    typed.iter().map(|d| Operand { shape: &shape, data: d }).collect();
                let mut want = vec![T::zero(); n];
                op.reference_kernel(&operands, &[n], &mut want);
                for (i, (g, w)) in got[0].iter().zip(&want).enumerate() {
                    let w = Element::to_f64(*w);
                    let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
                    assert!(same, "{} [{}] element {i}: {g} vs reference {w}", op.name(), T::DTYPE);
                }
            }
            k => panic!("{}: {k} reference ops for one node", op.name()),
        }
    }
    fast
}

/// An elementwise op without a fast kernel runs its reference kernel (DESIGN §3), and the
/// count says which ran which: in f64 every elementwise op falls back, in f32 exactly
/// the ops with a fast `fastmath` kernel do not.
#[test]
fn elementwise_ops_without_a_fast_kernel_run_their_reference_kernel() {
    assert!(fallback_is_the_reference_kernel::<f64>().is_empty());
    let fast = fallback_is_the_reference_kernel::<f32>();
    let fast_names: Vec<&str> = fast.iter().map(Op::name).collect();
    assert_eq!(fast_names, ["exp", "log", "log1p", "softplus", "sigmoid"]);
}

fn reduce_cases() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![5], vec![0]),
        (vec![1], vec![0]),
        (vec![0], vec![0]),
        (vec![0, 3], vec![0]),
        (vec![0, 3], vec![1]),
        (vec![3, 0], vec![1]),
        (vec![4, 7], vec![0]),
        (vec![4, 7], vec![1]),
        (vec![4, 7], vec![0, 1]),
        (vec![3, 1, 5], vec![0]),
        (vec![3, 1, 5], vec![1]),
        (vec![3, 1, 5], vec![2]),
        (vec![3, 1, 5], vec![0, 2]),
        (vec![2, 3, 4], vec![0]),
        (vec![2, 3, 4], vec![1]),
        (vec![2, 3, 4], vec![2]),
        (vec![2, 3, 4], vec![0, 1]),
        (vec![2, 3, 4], vec![1, 2]),
        (vec![2, 3, 4], vec![0, 2]),
        (vec![2, 3, 4], vec![2, 0]),
        (vec![2, 3, 4], vec![0, 1, 2]),
        (vec![2, 3, 4, 5], vec![1, 3]),
        (vec![2, 3, 4, 5], vec![0, 2]),
        (vec![2, 3, 4, 5], vec![0, 3]),
        (vec![300, 257], vec![0]),
        (vec![300, 257], vec![1]),
        (vec![17, 1], vec![0]),
    ]
}

#[test]
fn reduce_sum_and_max() {
    for (s, axes) in reduce_cases() {
        check(&format!("reduce_sum {s:?} {axes:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![x.apply(Op::ReduceSum { axes: axes.clone() }, &[])])
        });
        check(&format!("reduce_max {s:?} {axes:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![x.apply(Op::ReduceMax { axes: axes.clone() }, &[])])
        });
    }
}

#[test]
fn reshape_is_correct_as_operand_and_output() {
    check("reshape chain", |g, dt| {
        let x = g.input("x", &[2, 3, 4], dt);
        let r = x.reshape(&[6, 4]);
        let y = r.exp().reshape(&[24]);
        let z = (&r * &r).reshape(&[4, 6]);
        (vec![x.clone()], vec![y, z, r, x.reshape(&[3, 8])])
    });
    check("reshape empty", |g, dt| {
        let x = g.input("x", &[0, 3], dt);
        (vec![x.clone()], vec![x.reshape(&[3, 0]).tanh()])
    });
}

#[test]
fn broadcast_patterns() {
    let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![1, 5], vec![4, 5]),
        (vec![4, 1], vec![4, 5]),
        (vec![1, 1], vec![4, 5]),
        (vec![1], vec![9]),
        (vec![1, 1], vec![1, 1]),
        (vec![2, 1, 3], vec![2, 4, 3]),
        (vec![1, 3, 1], vec![2, 3, 4]),
        (vec![2, 1, 1, 3], vec![2, 5, 4, 3]),
        (vec![1, 3], vec![0, 3]),
        (vec![1, 0], vec![4, 0]),
        (vec![1, 257], vec![300, 257]),
        (vec![300, 1], vec![300, 257]),
    ];
    for (from, to) in cases {
        check(&format!("broadcast {from:?} -> {to:?}"), |g, dt| {
            let x = g.input("x", &from, dt);
            (vec![x.clone()], vec![x.apply(Op::Broadcast { shape: to.clone() }, &[])])
        });
    }
}

#[test]
fn transposes() {
    let mut cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![1, 1], vec![1, 0]),
        (vec![1, 5], vec![1, 0]),
        (vec![5, 1], vec![1, 0]),
        (vec![3, 7], vec![1, 0]),
        (vec![33, 65], vec![1, 0]),
        (vec![32, 64], vec![1, 0]),
        (vec![300, 257], vec![1, 0]),
        (vec![0, 4], vec![1, 0]),
        (vec![4, 1, 3], vec![2, 1, 0]),
        (vec![2, 3, 4, 5], vec![0, 2, 1, 3]),
        (vec![2, 3, 4, 5], vec![3, 1, 0, 2]),
        (vec![5, 33, 31], vec![0, 2, 1]),
    ];
    for perm in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        cases.push((vec![2, 3, 4], perm.to_vec()));
    }
    for (s, perm) in cases {
        check(&format!("transpose {s:?} {perm:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![x.apply(Op::Transpose { perm: perm.clone() }, &[])])
        });
    }
}

#[test]
fn slices() {
    let cases: Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> = vec![
        (vec![5, 7], vec![1, 2], vec![4, 7]),
        (vec![5, 7], vec![0, 0], vec![5, 7]),
        (vec![5, 7], vec![2, 3], vec![2, 5]),
        (vec![5, 7], vec![0, 3], vec![5, 4]),
        (vec![9], vec![4], vec![5]),
        (vec![2, 3, 4], vec![1, 0, 1], vec![2, 3, 3]),
        (vec![2, 3, 4], vec![0, 1, 0], vec![2, 2, 4]),
        (vec![300, 257], vec![13, 0], vec![290, 257]),
        (vec![300, 257], vec![0, 100], vec![300, 101]),
    ];
    for (s, lo, hi) in cases {
        check(&format!("slice {s:?} {lo:?}..{hi:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![x.slice(&lo, &hi)])
        });
    }
}

#[test]
fn pads() {
    let cases: Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> = vec![
        (vec![3, 4], vec![1, 0], vec![2, 3]),
        (vec![3, 4], vec![0, 0], vec![0, 0]),
        (vec![5], vec![2], vec![0]),
        (vec![0, 3], vec![1, 1], vec![1, 0]),
        (vec![2, 3, 4], vec![0, 1, 0], vec![1, 0, 2]),
        (vec![1, 1], vec![3, 2], vec![1, 4]),
        (vec![64, 33], vec![1, 31], vec![2, 0]),
    ];
    for (s, lo, hi) in cases {
        check(&format!("pad {s:?} {lo:?} {hi:?}"), |g, dt| {
            let x = g.input("x", &s, dt);
            (vec![x.clone()], vec![x.pad(&lo, &hi)])
        });
    }
}

#[test]
fn concats() {
    let cases: Vec<(Vec<Vec<usize>>, usize)> = vec![
        (vec![vec![2, 3], vec![4, 3]], 0),
        (vec![vec![2, 3], vec![2, 5]], 1),
        (vec![vec![2, 3], vec![2, 0], vec![2, 1]], 1),
        (vec![vec![2, 3, 4], vec![2, 1, 4], vec![2, 2, 4]], 1),
        (vec![vec![2, 3, 4], vec![2, 3, 1]], 2),
        (vec![vec![0, 3], vec![5, 3]], 0),
        (vec![vec![1], vec![1], vec![1], vec![1], vec![1]], 0),
        (vec![vec![100, 257], vec![100, 3]], 1),
    ];
    for (shapes, axis) in cases {
        check(&format!("concat {shapes:?} axis {axis}"), |g, dt| {
            let xs: Vec<Tensor> =
                shapes.iter().enumerate().map(|(i, s)| g.input(&format!("x{i}"), s, dt)).collect();
            let y = Tensor::concat(&xs, axis);
            (xs, vec![y])
        });
    }
}

/// solve runs on the reference kernel (`fallback`), with its reverse-mode derivative (a
/// solve with the transposed matrix and a product) in the same program; A = a + (n+1)·I
/// keeps the systems well conditioned for any fed values in [−1, 1].
#[test]
fn solves() {
    for (batch, n, k) in [(vec![], 1, 1), (vec![], 5, 3), (vec![2], 4, 1), (vec![], 17, 2)] {
        let mut sa = batch.clone();
        sa.extend([n, n]);
        let mut sb = batch.clone();
        sb.extend([n, k]);
        check(&format!("fallback solve {sa:?}·{sb:?}"), |g, dt| {
            let a = g.input("a", &sa, dt);
            let b = g.input("b", &sb, dt);
            let eye: Vec<f64> =
                (0..n * n).map(|i| if i / n == i % n { n as f64 + 1.0 } else { 0.0 }).collect();
            let mut shape = vec![1; batch.len()];
            shape.extend([n, n]);
            let eye = g.literal(&eye, &shape, dt).unwrap().broadcast_to(&sa);
            let x = (&a + &eye).solve(&b);
            let d = grad(&x.square().sum_all(), &[a.clone(), b.clone()]).unwrap();
            (vec![a, b], vec![x, d[0].clone(), d[1].clone()])
        });
    }
}

#[test]
fn dots() {
    let cases: Vec<(Vec<usize>, usize, usize, usize)> = vec![
        (vec![], 1, 1, 1),
        (vec![], 0, 3, 4),
        (vec![], 3, 0, 4),
        (vec![], 3, 4, 0),
        (vec![], 2, 3, 4),
        (vec![], 17, 33, 9),
        (vec![], 1, 257, 1),
        (vec![], 64, 64, 64),
        (vec![], 128, 2, 128),
        (vec![], 300, 257, 129),
        (vec![3], 5, 7, 2),
        (vec![0], 5, 7, 2),
        (vec![2, 3], 4, 5, 6),
        (vec![8], 64, 64, 64),
    ];
    for (batch, m, k, n) in cases {
        let mut sa = batch.clone();
        sa.extend([m, k]);
        let mut sb = batch.clone();
        sb.extend([k, n]);
        check(&format!("dot {sa:?}·{sb:?}"), |g, dt| {
            let a = g.input("a", &sa, dt);
            let b = g.input("b", &sb, dt);
            (vec![a.clone(), b.clone()], vec![a.dot(&b)])
        });
    }
}

#[test]
fn dots_through_absorbed_transposes() {
    for (m, k, n) in [(1, 1, 1), (3, 5, 2), (33, 17, 65), (130, 70, 90)] {
        check(&format!("dot aᵀ·b, a·bᵀ, aᵀ·bᵀ {m} {k} {n}"), |g, dt| {
            let at = g.input("at", &[k, m], dt);
            let b = g.input("b", &[k, n], dt);
            let a = g.input("a", &[m, k], dt);
            let bt = g.input("bt", &[n, k], dt);
            let outs = vec![at.mt().dot(&b), a.dot(&bt.mt()), at.mt().dot(&bt.mt())];
            (vec![at, b, a, bt], outs)
        });
    }
    check("batched dot through transposes", |g, dt| {
        let at = g.input("at", &[3, 4, 5], dt);
        let b = g.input("b", &[3, 4, 6], dt);
        (vec![at.clone(), b.clone()], vec![at.mt().dot(&b), b.mt().dot(&at)])
    });
    // A transpose also read by a non-dot (not absorbed) or being an output.
    check("transpose shared with non-dot", |g, dt| {
        let a = g.input("a", &[6, 4], dt);
        let b = g.input("b", &[6, 3], dt);
        let at = a.mt();
        (vec![a.clone(), b.clone()], vec![at.dot(&b), at.exp(), at.clone()])
    });
}

#[test]
fn sources_and_identities() {
    check("constants and literals", |g, dt| {
        let x = g.input("x", &[2, 3], dt);
        let c = g.constant(1.5, &[2, 3], dt);
        let l = g.literal(&[1., 2., 3., 4., 5., 6.], &[2, 3], dt).unwrap();
        let y = &(&x * &c) + &l;
        (vec![x], vec![y, l, c])
    });
    check("convert and stop_gradient", |g, dt| {
        let x = g.input("x", &[4, 5], dt);
        let c = x.apply(Op::Convert { dtype: dt }, &[]);
        let s = x.stop_gradient();
        (vec![x], vec![c.exp(), s.sin(), s])
    });
    check("inputs as outputs, repeated outputs, scalar", |g, dt| {
        let x = g.input("x", &[3], dt);
        let s = g.input("s", &[], dt);
        let y = x.tanh();
        (vec![x.clone(), s.clone()], vec![x.clone(), y.clone(), y, x.reshape(&[1, 3]), s])
    });
}

#[test]
fn high_rank_falls_back_to_the_reference_kernel() {
    // Nine axes of size 2 with every axis moved: the strided engine (8 axes) cannot hold
    // it, so the reference kernel runs.
    let shape = vec![2usize; 9];
    let perm: Vec<usize> = vec![8, 7, 6, 5, 4, 3, 2, 1, 0];
    check("fallback transpose rank 9", |g, dt| {
        let x = g.input("x", &shape, dt);
        (vec![x.clone()], vec![x.apply(Op::Transpose { perm: perm.clone() }, &[])])
    });
    let g = scorematch_graph::Graph::new();
    let x = g.input("x", &shape, DType::F64);
    let y = x.apply(Op::Transpose { perm }, &[]);
    let p = scorematch_exec::compile::<f64>(&[x], &[y], &Default::default()).unwrap();
    assert_eq!(p.stats().reference_kernels, 1);
}
