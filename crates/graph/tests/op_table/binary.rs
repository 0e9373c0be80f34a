//! Elementwise binary primitives, compare and select.

use crate::checker::{
    Family, Row, b2f, check_family, map1, map2, row, s_distinct, s_div, s_real, s_select,
};
use crate::common::eval;
use scorematch_graph::{DType, Graph, Op, grad, jvp};

/// Elementwise binary primitives (equal shapes, then with API broadcasting), compare and
/// select.
pub fn rows() -> Vec<Row> {
    use Family::*;
    vec![
        row(Binary, "add", &[&[2, 3], &[2, 3]], &[2, 3], |x| &x[0] + &x[1], s_real)
            .reference(|x| map2(x, |a, b| a + b)),
        row(Binary, "sub", &[&[2, 3], &[2, 3]], &[2, 3], |x| &x[0] - &x[1], s_real)
            .reference(|x| map2(x, |a, b| a - b)),
        row(Binary, "mul", &[&[2, 3], &[2, 3]], &[2, 3], |x| &x[0] * &x[1], s_real)
            .reference(|x| map2(x, |a, b| a * b)),
        row(Binary, "div", &[&[2, 3], &[2, 3]], &[2, 3], |x| &x[0] / &x[1], s_div)
            .reference(|x| map2(x, |a, b| a / b)),
        row(Binary, "max", &[&[2, 3], &[2, 3]], &[2, 3], |x| x[0].maximum(&x[1]), s_distinct)
            .reference(|x| map2(x, f64::max)),
        row(Binary, "mul_x_x", &[&[2, 3]], &[2, 3], |x| &x[0] * &x[0], s_real)
            .reference(|x| map1(x, |v| v * v)),
        row(Binary, "add_broadcast_row", &[&[2, 3], &[3]], &[2, 3], |x| &x[0] + &x[1], s_real)
            .reference(|x| (0..6).map(|i| x[0][i] + x[1][i % 3]).collect()),
        row(Binary, "mul_broadcast_outer", &[&[2, 1], &[1, 3]], &[2, 3], |x| &x[0] * &x[1], s_real)
            .reference(|x| (0..6).map(|i| x[0][i / 3] * x[1][i % 3]).collect()),
        row(Binary, "div_scalar_broadcast", &[&[], &[2, 3]], &[2, 3], |x| &x[0] / &x[1], s_div)
            .reference(|x| x[1].iter().map(|b| x[0][0] / b).collect()),
        // compare: piecewise constant, so zero derivative (symbolic), FD zero away from ties.
        row(
            CompareSelect,
            "compare_lt",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].lt(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a < b)))
        .zero(),
        row(
            CompareSelect,
            "compare_le",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].le(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a <= b)))
        .zero(),
        row(
            CompareSelect,
            "compare_gt",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].gt(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a > b)))
        .zero(),
        row(
            CompareSelect,
            "compare_ge",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].ge(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a >= b)))
        .zero(),
        row(
            CompareSelect,
            "compare_eq",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].eq(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a == b)))
        .zero(),
        row(
            CompareSelect,
            "compare_ne",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].ne(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, |a, b| b2f(a != b)))
        .zero(),
        // select on a mask computed from the first operand: the mask gets no derivative.
        row(
            CompareSelect,
            "select",
            &[&[2, 3], &[2, 3], &[2, 3]],
            &[2, 3],
            |x| {
                let mask = x[0].gt(&x[0].zeros_like());
                mask.apply(Op::Select, &[&x[1], &x[2]])
            },
            s_select,
        )
        .reference(|x| (0..6).map(|i| if x[0][i] > 0.0 { x[1][i] } else { x[2][i] }).collect()),
        // The condition as a raw value (≠ 0 selects a): perturbing it never crosses 0.
        row(
            CompareSelect,
            "select_raw_condition_nonlinear_branches",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].select(&(&x[1] * &x[0]), &x[1].exp()),
            s_select,
        )
        .reference(|x| (0..6).map(|i| x[1][i] * x[0][i]).collect()),
    ]
}

#[test]
fn binary_primitives() {
    check_family(Family::Binary);
}

#[test]
fn compare_and_select() {
    check_family(Family::CompareSelect);
}

#[test]
fn ties_and_kinks_follow_documented_conventions() {
    let g = Graph::new();
    let a = g.input("a", &[3], DType::F64);
    let b = g.input("b", &[3], DType::F64);
    let feeds = vec![(a.clone(), vec![1.0, 2.0, 0.0]), (b.clone(), vec![1.0, 3.0, 0.0])];
    // max ties go to the first operand.
    let m = a.maximum(&b).sum_all();
    let gm = grad(&m, &[a.clone(), b.clone()]).unwrap();
    // abs'(0) = 0; compare eq/ne with ties.
    let ab = grad(&a.abs().sum_all(), std::slice::from_ref(&a)).unwrap().remove(0);
    let eq = a.eq(&b);
    let ne = a.ne(&b);
    let le = a.le(&b);
    let out = eval(&[gm[0].clone(), gm[1].clone(), ab, eq, ne, le], &feeds);
    assert_eq!(out[0].data, vec![1.0, 0.0, 1.0]);
    assert_eq!(out[1].data, vec![0.0, 1.0, 0.0]);
    assert_eq!(out[2].data, vec![1.0, 1.0, 0.0]);
    assert_eq!(out[3].data, vec![1.0, 0.0, 1.0]);
    assert_eq!(out[4].data, vec![0.0, 1.0, 0.0]);
    assert_eq!(out[5].data, vec![1.0, 1.0, 1.0]);
    // reduce_max shares the derivative among ties.
    let x = g.input("x", &[4], DType::F64);
    let gx = grad(&x.max(&[0]), std::slice::from_ref(&x)).unwrap().remove(0);
    // ... and in forward mode: the tangent is the mean over the tied maxima.
    let t = g.input("t", &[4], DType::F64);
    let jx =
        jvp(&[x.max(&[0])], std::slice::from_ref(&x), std::slice::from_ref(&t)).unwrap().remove(0);
    let out = eval(
        &[x.max(&[0]), gx, jx],
        &[(x, vec![1.0, 3.0, 3.0, -2.0]), (t, vec![1.0, 2.0, 4.0, 8.0])],
    );
    assert_eq!(out[0].data, vec![3.0]);
    assert_eq!(out[1].data, vec![0.0, 0.5, 0.5, 0.0]);
    assert_eq!(out[2].data, vec![3.0]);
}

#[test]
fn select_primitive_treats_any_nonzero_as_true() {
    let g = Graph::new();
    let c = g.input("c", &[4], DType::F64);
    let a = g.input("a", &[4], DType::F64);
    let b = g.input("b", &[4], DType::F64);
    let y = c.apply(Op::Select, &[&a, &b]);
    let out = eval(
        &[y],
        &[
            (c, vec![0.0, -0.5, 2.0, -0.0]),
            (a, vec![1.0, 2.0, 3.0, 4.0]),
            (b, vec![10.0, 20.0, 30.0, 40.0]),
        ],
    );
    assert_eq!(out[0].data, vec![10.0, 2.0, 3.0, 40.0]);
}
