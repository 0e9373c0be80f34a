//! Elementwise unary primitives.

use crate::checker::{
    Family, Row, check_family, map1, row, s_away, s_log1p, s_pos, s_real, s_recip, s_softplus,
    s_tails, sigmoid_ref, softplus_ref,
};
use crate::common::eval;
use scorematch_graph::{DType, Graph};

/// Elementwise unary primitives, on [2, 3].
pub fn rows() -> Vec<Row> {
    use Family::*;
    vec![
        row(Unary, "neg", &[&[2, 3]], &[2, 3], |x| -&x[0], s_real).reference(|x| map1(x, |v| -v)),
        row(Unary, "exp", &[&[2, 3]], &[2, 3], |x| x[0].exp(), s_real)
            .reference(|x| map1(x, f64::exp))
            .order(3),
        row(Unary, "log", &[&[2, 3]], &[2, 3], |x| x[0].log(), s_pos)
            .reference(|x| map1(x, f64::ln))
            .order(3),
        row(Unary, "log1p", &[&[2, 3]], &[2, 3], |x| x[0].log1p(), s_log1p)
            .reference(|x| map1(x, f64::ln_1p)),
        row(Unary, "tanh", &[&[2, 3]], &[2, 3], |x| x[0].tanh(), s_real)
            .reference(|x| map1(x, f64::tanh))
            .order(3),
        row(Unary, "sqrt", &[&[2, 3]], &[2, 3], |x| x[0].sqrt(), s_pos)
            .reference(|x| map1(x, f64::sqrt)),
        row(Unary, "recip", &[&[2, 3]], &[2, 3], |x| x[0].recip(), s_recip)
            .reference(|x| map1(x, |v| 1.0 / v)),
        row(Unary, "abs", &[&[2, 3]], &[2, 3], |x| x[0].abs(), s_away)
            .reference(|x| map1(x, f64::abs)),
        row(Unary, "sin", &[&[2, 3]], &[2, 3], |x| x[0].sin(), s_real)
            .reference(|x| map1(x, f64::sin))
            .order(3),
        row(Unary, "cos", &[&[2, 3]], &[2, 3], |x| x[0].cos(), s_real)
            .reference(|x| map1(x, f64::cos))
            .order(3),
        row(Unary, "softplus", &[&[2, 3]], &[2, 3], |x| x[0].softplus(), s_softplus)
            .reference(|x| map1(x, softplus_ref))
            .order(3),
        // Both tails, |x| ∈ [21, 30): exact there too (no threshold, unlike the composite).
        row(Unary, "softplus_tails", &[&[2, 3]], &[2, 3], |x| x[0].softplus(), s_tails)
            .reference(|x| map1(x, softplus_ref))
            .order(3),
        row(Unary, "sigmoid", &[&[2, 3]], &[2, 3], |x| x[0].sigmoid(), s_real)
            .reference(|x| map1(x, sigmoid_ref))
            .order(3),
        row(Unary, "sigmoid_tails", &[&[2, 3]], &[2, 3], |x| x[0].sigmoid(), s_tails)
            .reference(|x| map1(x, sigmoid_ref))
            .order(3),
    ]
}

#[test]
fn unary_primitives() {
    check_family(Family::Unary);
}

#[test]
fn accurate_kernels_near_zero() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let out = eval(&[x.log1p(), x.exp() - 1.0], &[(x, vec![1e-20, -1e-18])]);
    assert_eq!(out[0].data, vec![1e-20, -1e-18]);
    assert_eq!(out[1].data, vec![0.0, 0.0], "exp(x) − 1 cancels, as it should in f64");
}
