//! Reductions, dot, convert, stop_gradient and the sources (constant, literal).

use crate::checker::{
    Family, Row, c, check_family, is_zero_constant, map1, mm, row, s_distinct, s_real,
};
use crate::common::eval;
use scorematch_graph::passes::verify;
use scorematch_graph::{DType, Graph, Op, Tensor, grad, jvp};

/// Reductions (keep dims), then dot, convert, stop_gradient and the sources.
pub fn rows() -> Vec<Row> {
    use Family::*;
    vec![
        row(
            Reduce,
            "reduce_sum_axis1",
            &[&[2, 3, 2]],
            &[2, 1, 2],
            |x| x[0].reduce_sum_keep(&[1]),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![0.0; 4];
            for i in 0..2 {
                for j in 0..3 {
                    for k in 0..2 {
                        o[i * 2 + k] += x[0][i * 6 + j * 2 + k];
                    }
                }
            }
            o
        }),
        row(
            Reduce,
            "reduce_sum_axes02",
            &[&[2, 3, 2]],
            &[1, 3, 1],
            |x| x[0].reduce_sum_keep(&[0, 2]),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![0.0; 3];
            for i in 0..2 {
                for j in 0..3 {
                    for k in 0..2 {
                        o[j] += x[0][i * 6 + j * 2 + k];
                    }
                }
            }
            o
        }),
        row(
            Reduce,
            "reduce_max_axis1",
            &[&[2, 4, 2]],
            &[2, 1, 2],
            |x| x[0].reduce_max_keep(&[1]),
            s_distinct,
        )
        .reference(|x| {
            let mut o = vec![f64::NEG_INFINITY; 4];
            for i in 0..2 {
                for j in 0..4 {
                    for k in 0..2 {
                        o[i * 2 + k] = o[i * 2 + k].max(x[0][i * 8 + j * 2 + k]);
                    }
                }
            }
            o
        }),
        row(
            Reduce,
            "reduce_max_axes02",
            &[&[2, 3, 2]],
            &[1, 3, 1],
            |x| x[0].reduce_max_keep(&[2, 0]),
            s_distinct,
        )
        .reference(|x| {
            let mut o = vec![f64::NEG_INFINITY; 3];
            for i in 0..2 {
                for j in 0..3 {
                    for k in 0..2 {
                        o[j] = o[j].max(x[0][i * 6 + j * 2 + k]);
                    }
                }
            }
            o
        }),
        // dot (batched) and plain, convert, stop_gradient, sources.
        row(DotConvertSource, "dot", &[&[3, 4], &[4, 2]], &[3, 2], |x| x[0].dot(&x[1]), s_real)
            .reference(|x| mm(&x[0], &x[1], 3, 4, 2)),
        row(
            DotConvertSource,
            "dot_batched",
            &[&[2, 3, 4], &[2, 4, 2]],
            &[2, 3, 2],
            |x| x[0].dot(&x[1]),
            s_real,
        )
        .reference(|x| {
            let mut o = mm(&x[0][..12], &x[1][..8], 3, 4, 2);
            o.extend(mm(&x[0][12..], &x[1][8..], 3, 4, 2));
            o
        }),
        row(DotConvertSource, "dot_same_operand", &[&[3, 3]], &[3, 3], |x| x[0].dot(&x[0]), s_real)
            .reference(|x| mm(&x[0], &x[0], 3, 3, 3)),
        // solve: A = x₀ + 8I (diagonally dominant for 3 × 3 with entries in (−2, 2), so every order's
        // finite differences stay well inside the invertible set); the reference is
        // Gauss–Jordan elimination written in the test.
        row(
            DotConvertSource,
            "solve",
            &[&[3, 3], &[3, 2]],
            &[3, 2],
            |x| shifted(&x[0], 8.0).solve(&x[1]),
            s_real,
        )
        .reference(|x| solve_ref(&x[0], &x[1], 3, 2, 1)),
        row(
            DotConvertSource,
            "solve_batched",
            &[&[2, 3, 3], &[2, 3, 1]],
            &[2, 3, 1],
            |x| shifted(&x[0], 8.0).solve(&x[1]),
            s_real,
        )
        .reference(|x| solve_ref(&x[0], &x[1], 3, 1, 2)),
        row(
            DotConvertSource,
            "convert_f32_roundtrip",
            &[&[2, 3]],
            &[2, 3],
            |x| {
                let y = x[0].convert(DType::F32).convert(DType::F64);
                &y * &y
            },
            s_real,
        )
        .reference(|x| map1(x, |v| v * v)),
        row(
            DotConvertSource,
            "constant",
            &[&[2, 3]],
            &[2, 3],
            |x| &x[0] * &c(&x[0], 2.5) + c(&x[0], -1.0),
            s_real,
        )
        .reference(|x| map1(x, |v| 2.5 * v - 1.0)),
        row(
            DotConvertSource,
            "literal",
            &[&[2, 3]],
            &[2, 3],
            |x| {
                let g = x[0].graph();
                let l = g.literal(&[1.0, -2.0, 0.5, 3.0, 0.0, -1.5], &[2, 3], DType::F64).unwrap();
                (&x[0] * &l).sin() + l
            },
            s_real,
        )
        .reference(|x| {
            let l = [1.0, -2.0, 0.5, 3.0, 0.0, -1.5];
            (0..6).map(|i| (x[0][i] * l[i]).sin() + l[i]).collect()
        }),
        row(
            DotConvertSource,
            "stop_gradient_of_nonlinear_composition",
            &[&[2, 3]],
            &[2, 3],
            |x| x[0].stop_gradient().exp(),
            s_real,
        )
        .reference(|x| map1(x, f64::exp))
        .defined_zero(),
    ]
}

/// `a` plus `shift` on the diagonal of every trailing square matrix.
fn shifted(a: &Tensor, shift: f64) -> Tensor {
    let r = a.rank();
    let n = a.shape()[r - 1];
    let eye: Vec<f64> = (0..n * n).map(|i| if i / n == i % n { shift } else { 0.0 }).collect();
    let mut shape = vec![1; r - 2];
    shape.extend([n, n]);
    let eye = a.graph().literal(&eye, &shape, a.dtype()).unwrap().broadcast_to(a.shape());
    a + &eye
}

/// The solution of (a + 8I)·X = b for `batch` systems of n × n with k right-hand sides,
/// by Gauss–Jordan elimination written here independently of the kernel (no pivoting:
/// the shifted matrix is diagonally dominant).
fn solve_ref(a: &[f64], b: &[f64], n: usize, k: usize, batch: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for bi in 0..batch {
        let mut m: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut row: Vec<f64> = (0..n)
                    .map(|j| a[bi * n * n + i * n + j] + if i == j { 8.0 } else { 0.0 })
                    .collect();
                row.extend((0..k).map(|j| b[bi * n * k + i * k + j]));
                row
            })
            .collect();
        for c in 0..n {
            let p = m[c][c];
            m[c].iter_mut().for_each(|v| *v /= p);
            for i in (0..n).filter(|&i| i != c) {
                let f = m[i][c];
                let pivot_row = m[c].clone();
                m[i].iter_mut().zip(&pivot_row).for_each(|(v, q)| *v -= f * q);
            }
        }
        out.extend(m.iter().flat_map(|row| row[n..].to_vec()));
    }
    out
}

#[test]
fn reductions() {
    check_family(Family::Reduce);
}

#[test]
fn dot_convert_and_sources() {
    check_family(Family::DotConvertSource);
}

#[test]
fn convert_roundtrip_shapes_dtypes_values() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    assert_eq!(x.convert(DType::F64), x, "f64 → f64 is a no-op");
    let x32 = x.convert(DType::F32);
    assert_eq!(x32.dtype(), DType::F32);
    assert_eq!(x32.shape(), &[2, 3]);
    assert!(matches!(x32.op(), Op::Convert { dtype: DType::F32 }));
    let back = x32.convert(DType::F64);
    assert_eq!(back.dtype(), DType::F64);
    assert_eq!(back.shape(), &[2, 3]);
    let vals = vec![0.1, -2.5, 3.0, 1e10, -1e-10, 0.0];
    let out = eval(&[x32.clone(), back.clone()], &[(x.clone(), vals.clone())]);
    assert_eq!(out[0].shape, vec![2, 3]);
    // The interpreter models the mathematics in f64, not f32 rounding.
    assert_eq!(out[1].data, vals);
    // Its gradient is a convert back to f64 of the cotangent.
    let d = grad(&back.sum_all(), std::slice::from_ref(&x)).unwrap().remove(0);
    assert_eq!(d.dtype(), DType::F64);
    assert_eq!(eval(&[d], &[(x, vals)])[0].data, vec![1.0; 6]);
}

#[test]
fn sources_constant_literal_and_their_zero_derivatives() {
    let g = Graph::new();
    let k = g.constant(-1.25, &[2, 2], DType::F64);
    let l = g.literal(&[1.0, 2.0, 3.0, 4.0], &[2, 2], DType::F64).unwrap();
    let out = eval(&[k.clone(), l.clone()], &[]);
    assert_eq!(out[0].data, vec![-1.25; 4]);
    assert_eq!(out[0].shape, vec![2, 2]);
    assert_eq!(out[1].data, vec![1.0, 2.0, 3.0, 4.0]);
    let x = g.input("x", &[2, 2], DType::F64);
    let t = g.input("t", &[2, 2], DType::F64);
    let d = jvp(&[k, l.clone()], std::slice::from_ref(&x), std::slice::from_ref(&t)).unwrap();
    assert!(d.iter().all(is_zero_constant));
    let gl = grad(&l.sum_all(), std::slice::from_ref(&x)).unwrap().remove(0);
    assert!(is_zero_constant(&gl));
    // A scalar constant and literals are hash-consed by value, bit for bit.
    assert_eq!(g.scalar(2.0, DType::F64), g.scalar(2.0, DType::F64));
    assert_ne!(g.scalar(0.0, DType::F64), g.scalar(-0.0, DType::F64));
    assert_eq!(
        g.literal(&[1.0, 2.0], &[2], DType::F64).unwrap(),
        g.literal(&[1.0, 2.0], &[2], DType::F64).unwrap()
    );
}

#[test]
fn stop_gradient_is_identity_with_zero_derivative_at_every_order() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let s = x.stop_gradient();
    let y = (&x * &s).sum_all(); // value Σx², derivative s = x (not 2x)
    let d = grad(&y, std::slice::from_ref(&x)).unwrap().remove(0);
    let dd = grad(&d.sum_all(), std::slice::from_ref(&x)).unwrap().remove(0);
    verify(&g).unwrap();
    let xs = vec![1.0, -2.0, 0.5];
    let out = eval(&[s, y, d, dd.clone()], &[(x, xs.clone())]);
    assert_eq!(out[0].data, xs);
    assert_eq!(out[1].data, vec![5.25]);
    assert_eq!(out[2].data, xs);
    assert!(is_zero_constant(&dd), "d/dx of stop_gradient(x) must be a symbolic zero");
}
