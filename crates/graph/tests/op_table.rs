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

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Rng, assert_close, dot, eval, max_abs};
use scorematch_graph::passes::verify;
use scorematch_graph::shape::numel;
use scorematch_graph::{DType, Graph, Op, Tensor, evaluate, grad, hvp, jvp, vjp};

type Build = fn(&[Tensor]) -> Tensor;
type Sample = fn(&mut Rng, &[Vec<usize>]) -> Vec<Vec<f64>>;
type Reference = fn(&[Vec<f64>]) -> Vec<f64>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Unary,
    Binary,
    CompareSelect,
    Reduce,
    Layout,
    DotConvertSource,
    Composite,
}

struct Row {
    family: Family,
    name: &'static str,
    shapes: Vec<Vec<usize>>,
    out: Vec<usize>,
    build: Build,
    sample: Sample,
    reference: Option<(Reference, f64)>,
    order: usize,
    zero: bool,
    fd: bool,
}

fn row(
    family: Family,
    name: &'static str,
    shapes: &[&[usize]],
    out: &[usize],
    build: Build,
    sample: Sample,
) -> Row {
    Row {
        family,
        name,
        shapes: shapes.iter().map(|s| s.to_vec()).collect(),
        out: out.to_vec(),
        build,
        sample,
        reference: None,
        order: 2,
        zero: false,
        fd: true,
    }
}

impl Row {
    fn order(mut self, k: usize) -> Self {
        self.order = k;
        self
    }
    /// Derivative zero almost everywhere: JVP and VJP must be symbolic zeros.
    fn zero(mut self) -> Self {
        self.zero = true;
        self
    }
    /// Derivative zero by definition (stop_gradient): symbolic zeros, and no FD check,
    /// since the value itself does change.
    fn defined_zero(mut self) -> Self {
        self.zero = true;
        self.fd = false;
        self
    }
    /// Values must match `f` to 1e-12 relative.
    fn reference(self, f: Reference) -> Self {
        self.reference_tol(f, 1e-12)
    }
    fn reference_tol(mut self, f: Reference, tol: f64) -> Self {
        self.reference = Some((f, tol));
        self
    }
}

// ---------------------------------------------------------------------------------------
// Samplers: each draws every operand inside the row's domain.

fn each(r: &mut Rng, shapes: &[Vec<usize>], lo: f64, hi: f64) -> Vec<Vec<f64>> {
    shapes.iter().map(|s| r.vec(numel(s), lo, hi)).collect()
}
fn s_real(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -2.0, 2.0)
}
/// Positive, away from 0 (log, sqrt: the derivatives blow up at 0).
fn s_pos(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, 0.5, 2.0)
}
/// log1p's domain x > −1, kept 0.4 away from the pole.
fn s_log1p(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -0.6, 2.0)
}
/// |x| ∈ [0.2, 2) with random sign: away from the kinks of abs, elu and norm_l1.
fn s_away(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 0.2, 2.0)).collect()
}
/// |x| ∈ [0.5, 2): recip's pole.
fn s_recip(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 0.5, 2.0)).collect()
}
/// All elements of all operands pairwise ≥ 0.25 apart: no ties for max, reduce_max,
/// minimum and compare (a tie within the FD step would flip a mask).
fn s_distinct(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    let total: usize = s.iter().map(|sh| numel(sh)).sum();
    let all = r.distinct(total, 0.25);
    let mut out = vec![];
    let mut at = 0;
    for sh in s {
        out.push(all[at..at + numel(sh)].to_vec());
        at += numel(sh);
    }
    out
}
/// Numerator anywhere, denominator away from 0.
fn s_div(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    vec![r.vec(numel(&s[0]), -2.0, 2.0), r.vec_away(numel(&s[1]), 0.5, 2.0)]
}
/// Condition away from 0 (the builder selects on c > 0), branches anywhere.
fn s_select(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    let mut v = vec![r.vec_away(numel(&s[0]), 0.2, 2.0)];
    v.extend(each(r, &s[1..], -2.0, 2.0));
    v
}
/// softplus around its smooth middle, well inside the threshold (20) of the stable form.
fn s_softplus(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -3.0, 3.0)
}
/// softplus' tails: both sides of the threshold branch, |x| ∈ [21, 30).
fn s_tails(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 21.0, 30.0)).collect()
}

// ---------------------------------------------------------------------------------------
// Independent references (plain loops over row-major data).

fn map1(x: &[Vec<f64>], f: fn(f64) -> f64) -> Vec<f64> {
    x[0].iter().map(|&v| f(v)).collect()
}
fn map2(x: &[Vec<f64>], f: fn(f64, f64) -> f64) -> Vec<f64> {
    x[0].iter().zip(&x[1]).map(|(&a, &b)| f(a, b)).collect()
}
fn b2f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
/// Plain m×k · k×n product.
fn mm(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    out
}
fn sigmoid_ref(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
fn softplus_ref(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
/// Reduces each row of a [rows, cols] row-major matrix.
fn per_row(x: &[f64], cols: usize, f: fn(&[f64]) -> f64) -> Vec<f64> {
    x.chunks(cols).map(f).collect()
}

fn c(g: &Tensor, v: f64) -> Tensor {
    g.full_like(v)
}

// ---------------------------------------------------------------------------------------
// The table.

fn table() -> Vec<Row> {
    use Family::*;
    vec![
        // Elementwise unary primitives, on [2, 3].
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
        // Elementwise binary primitives (equal shapes), then with API broadcasting.
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
        // Reductions (keep dims), over one axis and over several.
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
        // Layout primitives. A nonlinear map around the linear op keeps order 2 meaningful.
        row(Layout, "reshape", &[&[2, 3]], &[3, 2], |x| x[0].reshape(&[3, 2]), s_real)
            .reference(|x| x[0].clone()),
        row(
            Layout,
            "reshape_nonlinear",
            &[&[2, 3]],
            &[6],
            |x| (x[0].reshape(&[6]) * x[0].reshape(&[6])).sin(),
            s_real,
        )
        .reference(|x| map1(x, |v| (v * v).sin())),
        row(
            Layout,
            "broadcast",
            &[&[2, 1, 3]],
            &[2, 4, 3],
            |x| x[0].apply(Op::Broadcast { shape: vec![2, 4, 3] }, &[]),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 0..2 {
                for _ in 0..4 {
                    o.extend_from_slice(&x[0][i * 3..i * 3 + 3]);
                }
            }
            o
        }),
        row(
            Layout,
            "broadcast_to_prepend",
            &[&[3]],
            &[2, 3],
            |x| x[0].broadcast_to(&[2, 3]).tanh(),
            s_real,
        )
        .reference(|x| (0..6).map(|i| x[0][i % 3].tanh()).collect()),
        row(Layout, "transpose", &[&[2, 3, 4]], &[4, 2, 3], |x| x[0].transpose(&[2, 0, 1]), s_real)
            .reference(|x| {
                let mut o = vec![];
                for a in 0..4 {
                    for b in 0..2 {
                        for c in 0..3 {
                            o.push(x[0][b * 12 + c * 4 + a]);
                        }
                    }
                }
                o
            }),
        row(
            Layout,
            "transpose_nonlinear",
            &[&[2, 3]],
            &[3, 2],
            |x| x[0].transpose(&[1, 0]) * x[0].transpose(&[1, 0]).exp(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for j in 0..3 {
                for i in 0..2 {
                    let v = x[0][i * 3 + j];
                    o.push(v * v.exp());
                }
            }
            o
        }),
        row(Layout, "slice", &[&[3, 4]], &[2, 3], |x| x[0].slice(&[1, 0], &[3, 3]), s_real)
            .reference(|x| {
                let mut o = vec![];
                for i in 1..3 {
                    for j in 0..3 {
                        o.push(x[0][i * 4 + j]);
                    }
                }
                o
            }),
        row(
            Layout,
            "slice_nonlinear",
            &[&[3, 4]],
            &[2, 2],
            |x| x[0].slice(&[1, 1], &[3, 3]).square(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 1..3 {
                for j in 1..3 {
                    o.push(x[0][i * 4 + j].powi(2));
                }
            }
            o
        }),
        row(Layout, "pad", &[&[2, 3]], &[3, 5], |x| x[0].pad(&[1, 0], &[0, 2]), s_real).reference(
            |x| {
                let mut o = vec![0.0; 15];
                for i in 0..2 {
                    for j in 0..3 {
                        o[(i + 1) * 5 + j] = x[0][i * 3 + j];
                    }
                }
                o
            },
        ),
        row(
            Layout,
            "pad_nonlinear",
            &[&[2, 3]],
            &[3, 5],
            |x| x[0].pad(&[1, 0], &[0, 2]).cos(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![1.0; 15];
            for i in 0..2 {
                for j in 0..3 {
                    o[(i + 1) * 5 + j] = x[0][i * 3 + j].cos();
                }
            }
            o
        }),
        row(
            Layout,
            "concat_axis1",
            &[&[2, 1], &[2, 3], &[2, 2]],
            &[2, 6],
            |x| Tensor::concat(x, 1),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 0..2 {
                o.push(x[0][i]);
                o.extend_from_slice(&x[1][i * 3..i * 3 + 3]);
                o.extend_from_slice(&x[2][i * 2..i * 2 + 2]);
            }
            o
        }),
        row(
            Layout,
            "concat_axis0_nonlinear",
            &[&[1, 3], &[2, 3]],
            &[3, 3],
            |x| {
                Tensor::concat(&[x[0].clone(), x[1].clone()], 0)
                    * Tensor::concat(&[x[0].exp(), x[1].clone()], 0)
            },
            s_real,
        )
        .reference(|x| {
            let mut o: Vec<f64> = x[0].iter().map(|v| v * v.exp()).collect();
            o.extend(x[1].iter().map(|v| v * v));
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
        // Composites (built from primitives; derivatives come from the primitives' rules).
        row(Composite, "softplus", &[&[2, 3]], &[2, 3], |x| x[0].softplus(), s_softplus)
            .reference(|x| map1(x, softplus_ref))
            .order(3),
        // Beyond the threshold the stable form returns x (error e^−x ≤ 8e−10, as PyTorch).
        row(Composite, "softplus_tails", &[&[2, 3]], &[2, 3], |x| x[0].softplus(), s_tails)
            .reference_tol(|x| map1(x, softplus_ref), 1e-9),
        row(Composite, "sigmoid", &[&[2, 3]], &[2, 3], |x| x[0].sigmoid(), s_real)
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

// ---------------------------------------------------------------------------------------
// The checker.

/// Finite-difference step, relative to the inputs' magnitude. Central differences have
/// truncation error ≈ h²·|f'''|/6 (≈ 1e-11 here for |f'''| ≲ 100 on the sampled domains) and
/// rounding error ≈ k·ε·|f|/h (≈ 1e-9·|f| with k ~ 10 ulps of evaluation error). A wrong rule
/// errs by O(1) relative, so the tolerance below (1e-6 relative to the derivative, plus
/// 1e-8·|f| for the rounding term) separates them by five orders of magnitude either way.
const FD_REL_STEP: f64 = 1e-6;
const FD_TOL: f64 = 1e-6;
/// ⟨ȳ, J·ẋ⟩ and ⟨Jᵀȳ, ẋ⟩ are sums of the same products in another order, computed by
/// graphs of a few dozen ops: they agree to a few hundred ulps of the sum of |terms|.
const VJP_TOL: f64 = 1e-12;

struct Ctx {
    g: Graph,
    xs: Vec<Tensor>,
    x_vals: Vec<Vec<f64>>,
    rng: Rng,
}

type Feeds = Vec<(Tensor, Vec<f64>)>;

fn try_eval(
    outputs: &[Tensor],
    feeds: &Feeds,
) -> Result<Vec<scorematch_graph::HostTensor>, String> {
    let f: Vec<(&Tensor, &[f64])> = feeds.iter().map(|(t, v)| (t, v.as_slice())).collect();
    evaluate(outputs, &f).map_err(|e| format!("evaluate: {e}"))
}

fn is_zero_constant(t: &Tensor) -> bool {
    matches!(t.op(), Op::Constant { bits, .. } if f64::from_bits(bits) == 0.0)
}

fn check_row(row: &Row, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let g = Graph::new();
    let xs: Vec<Tensor> = row
        .shapes
        .iter()
        .enumerate()
        .map(|(i, s)| g.input(&format!("x{i}"), s, DType::F64))
        .collect();
    let x_vals = (row.sample)(&mut rng, &row.shapes);
    let y = (row.build)(&xs);
    verify(&g).map_err(|e| format!("verify after build: {e}"))?;
    if y.shape() != row.out.as_slice() || y.dtype() != DType::F64 {
        return Err(format!(
            "shape rule gives {:?} {}, declared {:?}",
            y.shape(),
            y.dtype(),
            row.out
        ));
    }
    let feeds: Feeds = xs.iter().cloned().zip(x_vals.iter().cloned()).collect();
    let out = try_eval(std::slice::from_ref(&y), &feeds)?.remove(0);
    if out.shape != row.out || out.data.len() != numel(&row.out) {
        return Err(format!(
            "kernel gives shape {:?} with {} values for declared {:?}",
            out.shape,
            out.data.len(),
            row.out
        ));
    }
    if let Some((reference, tol)) = row.reference {
        let want = reference(&x_vals);
        let err = common::max_abs_diff(&out.data, &want);
        if err > tol * (1.0 + max_abs(&want)) || out.data.iter().any(|v| !v.is_finite()) {
            return Err(format!("values {:?} differ from reference {want:?} by {err:e}", out.data));
        }
    }
    let mut ctx = Ctx { g, xs, x_vals, rng };
    check_level(&mut ctx, row, &y, &[], 1, "f")
}

/// Checks JVP (against FD) and VJP (against JVP) of `y` as a function of `ctx.xs`, the
/// inputs in `fixed` held at their values; then recurses on the JVP and VJP outputs.
fn check_level(
    ctx: &mut Ctx,
    row: &Row,
    y: &Tensor,
    fixed: &[(Tensor, Vec<f64>)],
    depth: usize,
    path: &str,
) -> Result<(), String> {
    let at = |m: String| format!("{path} (order {depth}): {m}");
    let g = ctx.g.clone();
    let xs = ctx.xs.clone();
    let feeds_at = |xv: &[Vec<f64>]| -> Feeds {
        let mut f: Feeds = xs.iter().cloned().zip(xv.iter().cloned()).collect();
        f.extend_from_slice(fixed);
        f
    };

    // Tangent and cotangent seeds are graph inputs, so the JVP/VJP outputs are functions of
    // the primals that the next order can differentiate again.
    let ts: Vec<Tensor> = xs
        .iter()
        .enumerate()
        .map(|(i, x)| g.input(&format!("{path}.t{i}"), x.shape(), DType::F64))
        .collect();
    let tv: Vec<Vec<f64>> = xs.iter().map(|x| ctx.rng.vec(x.numel(), -1.0, 1.0)).collect();
    let ybar = g.input(&format!("{path}.ybar"), y.shape(), DType::F64);
    let ybar_v = ctx.rng.vec(y.numel(), -1.0, 1.0);

    let ydot =
        jvp(std::slice::from_ref(y), &xs, &ts).map_err(|e| at(format!("jvp: {e}")))?.remove(0);
    verify(&g).map_err(|e| at(format!("verify after jvp: {e}")))?;
    let xbar = vjp(std::slice::from_ref(y), std::slice::from_ref(&ybar), &xs)
        .map_err(|e| at(format!("vjp: {e}")))?;
    verify(&g).map_err(|e| at(format!("verify after vjp: {e}")))?;
    if ydot.shape() != y.shape() {
        return Err(at(format!("jvp shape {:?} for output {:?}", ydot.shape(), y.shape())));
    }
    for (xb, x) in xbar.iter().zip(&xs) {
        if xb.shape() != x.shape() || xb.dtype() != x.dtype() {
            return Err(at(format!("vjp shape {:?} for operand {:?}", xb.shape(), x.shape())));
        }
    }
    if row.zero && depth == 1 && (!is_zero_constant(&ydot) || !xbar.iter().all(is_zero_constant)) {
        return Err(at(format!(
            "derivative should be a symbolic zero; jvp is {:?}, vjp {:?}",
            ydot.op(),
            xbar.iter().map(Tensor::op).collect::<Vec<_>>()
        )));
    }

    let mut feeds = feeds_at(&ctx.x_vals);
    feeds.extend(ts.iter().cloned().zip(tv.iter().cloned()));
    feeds.push((ybar.clone(), ybar_v.clone()));
    let mut outs = vec![y.clone(), ydot.clone()];
    outs.extend(xbar.iter().cloned());
    let vals = try_eval(&outs, &feeds).map_err(at)?;
    for (o, v) in outs.iter().zip(&vals) {
        if v.shape != o.shape() || v.data.len() != o.numel() {
            return Err(at(format!(
                "kernel output {} values for shape {:?}",
                v.data.len(),
                o.shape()
            )));
        }
        if v.data.iter().any(|x| !x.is_finite()) {
            return Err(at(format!("non-finite value in {:?}: {:?}", o.op(), v.data)));
        }
    }
    let (f0, ydot_v) = (&vals[0].data, &vals[1].data);

    // JVP vs central finite differences along the same tangent.
    let scale_x = ctx.x_vals.iter().map(|v| max_abs(v)).fold(1.0, f64::max);
    let h = FD_REL_STEP * scale_x;
    let shift = |s: f64| -> Vec<Vec<f64>> {
        ctx.x_vals
            .iter()
            .zip(&tv)
            .map(|(x, t)| x.iter().zip(t).map(|(a, b)| a + s * h * b).collect())
            .collect()
    };
    let fp = try_eval(std::slice::from_ref(y), &feeds_at(&shift(1.0))).map_err(at)?.remove(0).data;
    let fm = try_eval(std::slice::from_ref(y), &feeds_at(&shift(-1.0))).map_err(at)?.remove(0).data;
    let fd: Vec<f64> = fp.iter().zip(&fm).map(|(p, m)| (p - m) / (2.0 * h)).collect();
    let err = common::max_abs_diff(ydot_v, &fd);
    let tol = FD_TOL * (1.0 + max_abs(ydot_v)) + 1e-8 * max_abs(f0);
    if row.fd && err > tol {
        return Err(at(format!(
            "jvp {ydot_v:?} vs finite differences {fd:?}: error {err:e} > {tol:e}"
        )));
    }

    // VJP by the transpose identity.
    let lhs = dot(&ybar_v, ydot_v);
    let rhs: f64 = vals[2..].iter().zip(&tv).map(|(xb, t)| dot(&xb.data, t)).sum();
    let mag: f64 = ybar_v.iter().zip(ydot_v).map(|(a, b)| (a * b).abs()).sum::<f64>()
        + vals[2..]
            .iter()
            .zip(&tv)
            .flat_map(|(xb, t)| xb.data.iter().zip(t).map(|(a, b)| (a * b).abs()))
            .sum::<f64>();
    if (lhs - rhs).abs() > VJP_TOL * mag {
        return Err(at(format!("<ybar, J t> = {lhs:e} but <J^T ybar, t> = {rhs:e}")));
    }

    if depth < row.order {
        let mut fj = fixed.to_vec();
        fj.extend(ts.iter().cloned().zip(tv.iter().cloned()));
        check_level(ctx, row, &ydot, &fj, depth + 1, &format!("{path}.jvp"))?;
        let flat: Vec<Tensor> = xbar.iter().map(|t| t.reshape(&[t.numel()])).collect();
        let xb = Tensor::concat(&flat, 0);
        let mut fv = fixed.to_vec();
        fv.push((ybar, ybar_v));
        check_level(ctx, row, &xb, &fv, depth + 1, &format!("{path}.vjp"))?;
    }
    Ok(())
}

fn check_family(family: Family) {
    let rows: Vec<Row> = table().into_iter().filter(|r| r.family == family).collect();
    assert!(!rows.is_empty(), "no rows for {family:?}");
    let mut failures = vec![];
    for r in &rows {
        for seed in [1, 2] {
            if let Err(e) = check_row(r, seed * 7919 + r.name.len() as u64) {
                failures.push(format!("[{}] seed {seed}: {e}", r.name));
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn unary_primitives() {
    check_family(Family::Unary);
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
fn reductions() {
    check_family(Family::Reduce);
}

#[test]
fn layout_primitives() {
    check_family(Family::Layout);
}

#[test]
fn dot_convert_and_sources() {
    check_family(Family::DotConvertSource);
}

#[test]
fn composites() {
    check_family(Family::Composite);
}

/// Every primitive and composite of the design has at least one row, and the smooth ops
/// are checked to order 3. A new op without a row fails here.
#[test]
fn table_covers_every_op() {
    let t = table();
    let has = |prefix: &str| t.iter().any(|r| r.name.starts_with(prefix));
    let required = [
        "neg",
        "exp",
        "log",
        "log1p",
        "tanh",
        "sqrt",
        "recip",
        "abs",
        "sin",
        "cos",
        "add",
        "sub",
        "mul",
        "div",
        "max",
        "compare_lt",
        "compare_le",
        "compare_gt",
        "compare_ge",
        "compare_eq",
        "compare_ne",
        "select",
        "reduce_sum",
        "reduce_max",
        "reshape",
        "broadcast",
        "transpose",
        "slice",
        "pad",
        "concat",
        "dot",
        "convert",
        "stop_gradient",
        "constant",
        "literal",
        "softplus",
        "sigmoid",
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
    let missing: Vec<&str> = required.iter().copied().filter(|n| !has(n)).collect();
    assert!(missing.is_empty(), "op table lacks rows for {missing:?}");
    for smooth in ["tanh", "softplus", "exp", "log", "sigmoid", "swish"] {
        let r = t.iter().find(|r| r.name == smooth).expect("row exists");
        assert!(r.order >= 3, "{smooth} must be checked to order 3");
    }
    let names: std::collections::HashSet<&str> = t.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), t.len(), "duplicate row names");
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

#[test]
fn softplus_extremes_are_finite_and_exact() {
    let (y, d, h) = values_and_grad(Tensor::softplus, &[1000.0, -1000.0, 0.0, 20.0, 20.5, -745.0]);
    assert_eq!(y[0], 1000.0);
    assert_eq!(y[1], 0.0);
    assert!((y[2] - std::f64::consts::LN_2).abs() < 1e-16);
    assert!((y[3] - softplus_ref(20.0)).abs() < 1e-14);
    assert_eq!(y[4], 20.5);
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

#[test]
fn sigmoid_swish_elu_extremes_are_finite() {
    let (y, d, h) = values_and_grad(Tensor::sigmoid, &[1000.0, -1000.0, 0.0]);
    assert_eq!(y, vec![1.0, 0.0, 0.5]);
    assert_eq!(d, vec![0.0, 0.0, 0.25]);
    assert!(h.iter().all(|v| v.is_finite()));
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

#[test]
fn accurate_kernels_near_zero() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let out = eval(&[x.log1p(), x.exp() - 1.0], &[(x, vec![1e-20, -1e-18])]);
    assert_eq!(out[0].data, vec![1e-20, -1e-18]);
    assert_eq!(out[1].data, vec![0.0, 0.0], "exp(x) − 1 cancels, as it should in f64");
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
        x.elu(),
        x.sigmoid(),
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
        "elu",
        "sigmoid",
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
