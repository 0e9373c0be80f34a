//! Composites (built from primitives; derivatives come from the primitives' rules), and
//! the composites that primitives replaced, kept as their oracles.

use crate::checker::{
    Family, Row, check_family, map1, map2, mm, per_row, row, s_away, s_distinct, s_real,
    s_softplus, s_tails, sigmoid_ref, softplus_ref,
};
use crate::common::{assert_close, dot, eval};
use scorematch_graph::passes::verify;
use scorematch_graph::{DType, Graph, Tensor, grad, hvp, jvp};

/// PyTorch's softplus threshold: above it, softplus(x) = x to within f64 rounding.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

/// The softplus composite the primitive replaced, its oracle: x when x > 20, else
/// ln(1 + e^min(x, 20)), as `torch.nn.Softplus`. The `min` keeps the unselected branch
/// finite so no 0·∞ reaches a derivative, and there is no kink at 0.
pub fn softplus_composite(x: &Tensor) -> Tensor {
    let t = x.full_like(SOFTPLUS_THRESHOLD);
    let safe = x.minimum(&t);
    x.gt(&t).select(x, &safe.exp().log1p())
}

/// The sigmoid composite the primitive replaced, its oracle: ½ + ½·tanh(x/2), bounded and
/// smooth at every order.
pub fn sigmoid_composite(x: &Tensor) -> Tensor {
    0.5 + 0.5 * (x * 0.5).tanh()
}

/// Composites (built from primitives; derivatives come from the primitives' rules).
pub fn rows() -> Vec<Row> {
    use Family::*;
    vec![
        row(
            Composite,
            "softplus_composite",
            &[&[2, 3]],
            &[2, 3],
            |x| softplus_composite(&x[0]),
            s_softplus,
        )
        .reference(|x| map1(x, softplus_ref))
        .order(3),
        // Beyond the threshold the stable form returns x (error e^−x ≤ 8e−10, as PyTorch).
        row(
            Composite,
            "softplus_composite_tails",
            &[&[2, 3]],
            &[2, 3],
            |x| softplus_composite(&x[0]),
            s_tails,
        )
        .reference_tol(|x| map1(x, softplus_ref), 1e-9),
        row(
            Composite,
            "sigmoid_composite",
            &[&[2, 3]],
            &[2, 3],
            |x| sigmoid_composite(&x[0]),
            s_real,
        )
        .reference(|x| map1(x, sigmoid_ref))
        .order(3),
        row(Composite, "swish", &[&[2, 3]], &[2, 3], |x| x[0].swish(), s_real)
            .reference(|x| map1(x, |v| v * sigmoid_ref(v)))
            .order(3),
        row(Composite, "elu", &[&[2, 3]], &[2, 3], |x| x[0].elu(), s_away)
            .reference(|x| map1(x, |v| if v > 0.0 { v } else { v.exp_m1() })),
        row(Composite, "logsumexp", &[&[2, 3]], &[2], |x| x[0].logsumexp(&[1]), s_real)
            .reference(|x| per_row(&x[0], 3, |r| r.iter().map(|v| v.exp()).sum::<f64>().ln())),
        row(
            Composite,
            "logsumexp_all_neg_axis",
            &[&[2, 3]],
            &[],
            |x| x[0].logsumexp(&[0, -1]),
            s_real,
        )
        .reference(|x| vec![x[0].iter().map(|v| v.exp()).sum::<f64>().ln()]),
        row(Composite, "square", &[&[2, 3]], &[2, 3], |x| x[0].square(), s_real)
            .reference(|x| map1(x, |v| v * v)),
        row(Composite, "norm_l2", &[&[2, 3]], &[2], |x| x[0].norm_l2(&[-1]), s_away)
            .reference(|x| per_row(&x[0], 3, |r| r.iter().map(|v| v * v).sum::<f64>().sqrt())),
        row(Composite, "norm_l1", &[&[2, 3]], &[2], |x| x[0].norm_l1(&[1]), s_away)
            .reference(|x| per_row(&x[0], 3, |r| r.iter().map(|v| v.abs()).sum())),
        row(Composite, "mean", &[&[2, 3]], &[3], |x| x[0].mean(&[0]), s_real)
            .reference(|x| (0..3).map(|j| (x[0][j] + x[0][3 + j]) / 2.0).collect()),
        row(Composite, "mean_all", &[&[2, 3]], &[], |x| x[0].mean_all(), s_real)
            .reference(|x| vec![x[0].iter().sum::<f64>() / 6.0]),
        row(Composite, "sum", &[&[2, 3]], &[2], |x| x[0].sum(&[1]), s_real)
            .reference(|x| per_row(&x[0], 3, |r| r.iter().sum())),
        row(Composite, "sum_all_nonlinear", &[&[2, 3]], &[], |x| x[0].exp().sum_all(), s_real)
            .reference(|x| vec![x[0].iter().map(|v| v.exp()).sum()]),
        row(Composite, "max_axes", &[&[2, 3]], &[2], |x| x[0].max(&[1]), s_distinct).reference(
            |x| per_row(&x[0], 3, |r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ),
        row(
            Composite,
            "minimum",
            &[&[2, 3], &[2, 3]],
            &[2, 3],
            |x| x[0].minimum(&x[1]),
            s_distinct,
        )
        .reference(|x| map2(x, f64::min)),
        row(Composite, "matmul", &[&[2, 3], &[3, 4]], &[2, 4], |x| x[0].matmul(&x[1]), s_real)
            .reference(|x| mm(&x[0], &x[1], 2, 3, 4)),
        row(Composite, "matmul_vec_mat", &[&[3], &[3, 4]], &[4], |x| x[0].matmul(&x[1]), s_real)
            .reference(|x| mm(&x[0], &x[1], 1, 3, 4)),
        row(Composite, "matmul_mat_vec", &[&[2, 3], &[3]], &[2], |x| x[0].matmul(&x[1]), s_real)
            .reference(|x| mm(&x[0], &x[1], 2, 3, 1)),
        row(Composite, "matmul_vec_vec", &[&[3], &[3]], &[], |x| x[0].matmul(&x[1]), s_real)
            .reference(|x| vec![dot(&x[0], &x[1])]),
        row(
            Composite,
            "matmul_batch_broadcast",
            &[&[2, 1, 3, 4], &[5, 4, 2]],
            &[2, 5, 3, 2],
            |x| x[0].matmul(&x[1]),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for p in 0..2 {
                for q in 0..5 {
                    o.extend(mm(&x[0][p * 12..p * 12 + 12], &x[1][q * 8..q * 8 + 8], 3, 4, 2));
                }
            }
            o
        }),
        row(
            Composite,
            "matmul_vec_batched",
            &[&[4], &[2, 4, 3]],
            &[2, 3],
            |x| x[0].matmul(&x[1]),
            s_real,
        )
        .reference(|x| {
            let mut o = mm(&x[0], &x[1][..12], 1, 4, 3);
            o.extend(mm(&x[0], &x[1][12..], 1, 4, 3));
            o
        }),
        row(
            Composite,
            "matmul_batched_vec",
            &[&[2, 3, 4], &[4]],
            &[2, 3],
            |x| x[0].matmul(&x[1]),
            s_real,
        )
        .reference(|x| mm(&x[0], &x[1], 6, 4, 1)),
        row(
            Composite,
            "mlp_layer_tanh",
            &[&[2, 3], &[4, 3], &[4]],
            &[2, 4],
            |x| (x[0].matmul(&x[1].mt()) + &x[2]).tanh(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for b in 0..2 {
                for h in 0..4 {
                    let z: f64 =
                        (0..3).map(|d| x[0][b * 3 + d] * x[1][h * 3 + d]).sum::<f64>() + x[2][h];
                    o.push(z.tanh());
                }
            }
            o
        })
        .order(3),
    ]
}

#[test]
fn composites() {
    check_family(Family::Composite);
}

// ---------------------------------------------------------------------------------------
// Spot checks of kernel values and of derivatives in extreme ranges.

fn values_and_grad(f: fn(&Tensor) -> Tensor, xs: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let g = Graph::new();
    let x = g.input("x", &[xs.len()], DType::F64);
    let y = f(&x);
    let d = grad(&y.sum_all(), std::slice::from_ref(&x)).unwrap().remove(0);
    let h = hvp(&y.sum_all(), &x, &x.ones_like()).unwrap();
    verify(&g).unwrap();
    let out = eval(&[y, d, h], &[(x, xs.to_vec())]);
    (out[0].data.clone(), out[1].data.clone(), out[2].data.clone())
}

/// The primitives agree with the composites they replaced, in value and in derivatives to
/// order 3 (each derivative by reverse and by forward mode): in the smooth middle to
/// rounding, in the tails to the composite's threshold error (softplus: e^−x ≤ 8e−10
/// above 21).
#[test]
fn primitives_agree_with_their_composite_oracles() {
    type F = fn(&Tensor) -> Tensor;
    let pairs: [(&str, F, F); 2] = [
        ("softplus", Tensor::softplus, softplus_composite),
        ("sigmoid", Tensor::sigmoid, sigmoid_composite),
    ];
    let mut r = crate::common::Rng::new(3);
    let middle: Vec<f64> = (0..24).map(|_| r.uniform(-6.0, 6.0)).collect();
    let tails: Vec<f64> = (0..24).map(|_| r.away(21.0, 40.0)).collect();
    for (name, prim, comp) in pairs {
        for (xs, tol) in [(&middle, 1e-13), (&tails, 1e-9)] {
            let g = Graph::new();
            let x = g.input("x", &[xs.len()], DType::F64);
            let ones = x.ones_like();
            // [f, f′, f″, f‴] by grad of the sum (the Jacobians are diagonal), then
            // [f′, f″, f‴] by jvp with a unit tangent.
            let derivs = |f: F| {
                let (mut by_grad, mut by_jvp) = (vec![f(&x)], vec![f(&x)]);
                for k in 0..3 {
                    let s = by_grad[k].sum_all();
                    by_grad.push(grad(&s, std::slice::from_ref(&x)).unwrap().remove(0));
                    let t = by_jvp[k].clone();
                    let tangents = [ones.clone()];
                    by_jvp.push(jvp(&[t], std::slice::from_ref(&x), &tangents).unwrap().remove(0));
                }
                by_grad.into_iter().chain(by_jvp.into_iter().skip(1)).collect::<Vec<_>>()
            };
            let p = derivs(prim);
            let c = derivs(comp);
            verify(&g).unwrap();
            let outs: Vec<Tensor> = p.iter().chain(&c).cloned().collect();
            let vals = eval(&outs, &[(x.clone(), xs.to_vec())]);
            let (vp, vc) = vals.split_at(p.len());
            for (k, (a, b)) in vp.iter().zip(vc).enumerate() {
                let order = if k < 4 { k } else { k - 3 };
                assert_close(&a.data, &b.data, tol, &format!("{name} order {order} (#{k})"));
            }
        }
    }
}

#[test]
fn softplus_extremes_are_finite_and_exact() {
    // The primitive has no threshold (20.5 + e^−20.5); the composite, like PyTorch's
    // softplus, returns x itself above 20.
    fn primitive_at_20_5(y: f64) -> bool {
        (y - (20.5 + (-20.5f64).exp())).abs() < 4e-15 && y > 20.5
    }
    fn composite_at_20_5(y: f64) -> bool {
        y == 20.5
    }
    type Unary = fn(&Tensor) -> Tensor;
    type Check = fn(f64) -> bool;
    let cases: [(Unary, Check); 2] =
        [(Tensor::softplus, primitive_at_20_5), (softplus_composite, composite_at_20_5)];
    for (softplus, at_20_5) in cases {
        let (y, d, h) = values_and_grad(softplus, &[1000.0, -1000.0, 0.0, 20.0, 20.5, -745.0]);
        assert_eq!(y[0], 1000.0);
        assert_eq!(y[1], 0.0);
        assert!((y[2] - std::f64::consts::LN_2).abs() < 1e-16);
        assert!((y[3] - softplus_ref(20.0)).abs() < 1e-14);
        assert!(at_20_5(y[4]), "softplus(20.5) = {}", y[4]);
        assert!(y[5] >= 0.0 && y[5] < 1e-300);
        assert_eq!(d[0], 1.0);
        assert_eq!(d[1], 0.0);
        assert!((d[2] - 0.5).abs() < 1e-16);
        assert!((d[3] - sigmoid_ref(20.0)).abs() < 1e-14);
        assert!(h.iter().all(|v| v.is_finite()), "softplus'' not finite: {h:?}");
        assert_eq!(h[0], 0.0);
        assert_eq!(h[1], 0.0);
        assert!((h[2] - 0.25).abs() < 1e-16);
    }
}

#[test]
fn sigmoid_swish_elu_extremes_are_finite() {
    for sigmoid in [Tensor::sigmoid, sigmoid_composite] {
        let (y, d, h) = values_and_grad(sigmoid, &[1000.0, -1000.0, 0.0]);
        assert_eq!(y, vec![1.0, 0.0, 0.5]);
        assert_eq!(d, vec![0.0, 0.0, 0.25]);
        assert!(h.iter().all(|v| v.is_finite()));
    }
    let (y, d, h) = values_and_grad(Tensor::swish, &[1000.0, -1000.0, 0.0]);
    assert_eq!(y[0], 1000.0);
    assert_eq!(y[1], 0.0);
    assert_eq!(y[2], 0.0);
    assert_eq!(d, vec![1.0, 0.0, 0.5]);
    assert!(h.iter().all(|v| v.is_finite()));
    let (y, d, h) = values_and_grad(Tensor::elu, &[1000.0, -1000.0, -1.0]);
    assert_eq!(y[0], 1000.0);
    assert_eq!(y[1], -1.0);
    assert!((y[2] - (-1.0f64).exp_m1()).abs() < 1e-16);
    assert_eq!(d[0], 1.0);
    assert_eq!(d[1], 0.0);
    assert!((d[2] - (-1.0f64).exp()).abs() < 1e-16);
    assert!(h.iter().all(|v| v.is_finite()));
}

#[test]
fn logsumexp_of_large_values_is_stable() {
    let g = Graph::new();
    let x = g.input("x", &[3, 2], DType::F64);
    let y = x.logsumexp(&[1]);
    let d = grad(&y.sum_all(), std::slice::from_ref(&x)).unwrap().remove(0);
    let xs = vec![1000.0, 1000.0, -1000.0, -1000.0, 1000.0, 0.0];
    let out = eval(&[y, d], &[(x, xs)]);
    let ln2 = std::f64::consts::LN_2;
    assert_close(&out[0].data, &[1000.0 + ln2, -1000.0 + ln2, 1000.0], 1e-15, "logsumexp");
    assert_close(&out[1].data, &[0.5, 0.5, 0.5, 0.5, 1.0, 0.0], 1e-15, "softmax");
}
