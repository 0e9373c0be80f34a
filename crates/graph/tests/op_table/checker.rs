//! The op-table machinery: rows, samplers, independent references and the checker.

use crate::common::{self, Rng, dot, max_abs};
use scorematch_graph::passes::verify;
use scorematch_graph::shape::numel;
use scorematch_graph::{DType, Graph, Op, Tensor, evaluate, jvp, vjp};

pub type Build = fn(&[Tensor]) -> Tensor;
pub type Sample = fn(&mut Rng, &[Vec<usize>]) -> Vec<Vec<f64>>;
pub type Reference = fn(&[Vec<f64>]) -> Vec<f64>;

/// Op family: one `#[test]` per family checks all its rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    Unary,
    Binary,
    CompareSelect,
    Reduce,
    Layout,
    DotConvertSource,
    Composite,
}

/// One op: builder (operands → output), operand and output shapes, a sampler that draws
/// inputs inside the op's domain, an optional reference for the values, and the derivative
/// order to check.
pub struct Row {
    pub family: Family,
    pub name: &'static str,
    shapes: Vec<Vec<usize>>,
    out: Vec<usize>,
    build: Build,
    sample: Sample,
    reference: Option<(Reference, f64)>,
    pub order: usize,
    zero: bool,
    fd: bool,
}

/// A row with no reference, checked to order 2.
pub fn row(
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
    pub fn order(mut self, k: usize) -> Self {
        self.order = k;
        self
    }
    /// Derivative zero almost everywhere: JVP and VJP must be symbolic zeros.
    pub fn zero(mut self) -> Self {
        self.zero = true;
        self
    }
    /// Derivative zero by definition (stop_gradient): symbolic zeros, and no FD check,
    /// since the value itself does change.
    pub fn defined_zero(mut self) -> Self {
        self.zero = true;
        self.fd = false;
        self
    }
    /// Values must match `f` to 1e-12 relative.
    pub fn reference(self, f: Reference) -> Self {
        self.reference_tol(f, 1e-12)
    }
    pub fn reference_tol(mut self, f: Reference, tol: f64) -> Self {
        self.reference = Some((f, tol));
        self
    }
}

// ---------------------------------------------------------------------------------------
// Samplers: each draws every operand inside the row's domain.

fn each(r: &mut Rng, shapes: &[Vec<usize>], lo: f64, hi: f64) -> Vec<Vec<f64>> {
    shapes.iter().map(|s| r.vec(numel(s), lo, hi)).collect()
}
pub fn s_real(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -2.0, 2.0)
}
/// Positive, away from 0 (log, sqrt: the derivatives blow up at 0).
pub fn s_pos(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, 0.5, 2.0)
}
/// log1p's domain x > −1, kept 0.4 away from the pole.
pub fn s_log1p(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -0.6, 2.0)
}
/// |x| ∈ [0.2, 2) with random sign: away from the kinks of abs, elu and norm_l1.
pub fn s_away(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 0.2, 2.0)).collect()
}
/// |x| ∈ [0.5, 2): recip's pole.
pub fn s_recip(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 0.5, 2.0)).collect()
}
/// All elements of all operands pairwise ≥ 0.25 apart: no ties for max, reduce_max,
/// minimum and compare (a tie within the FD step would flip a mask).
pub fn s_distinct(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
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
pub fn s_div(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    vec![r.vec(numel(&s[0]), -2.0, 2.0), r.vec_away(numel(&s[1]), 0.5, 2.0)]
}
/// Condition away from 0 (the builder selects on c > 0), branches anywhere.
pub fn s_select(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    let mut v = vec![r.vec_away(numel(&s[0]), 0.2, 2.0)];
    v.extend(each(r, &s[1..], -2.0, 2.0));
    v
}
/// softplus around its smooth middle, well inside the threshold (20) of the stable form.
pub fn s_softplus(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    each(r, s, -3.0, 3.0)
}
/// softplus' tails: both sides of the threshold branch, |x| ∈ [21, 30).
pub fn s_tails(r: &mut Rng, s: &[Vec<usize>]) -> Vec<Vec<f64>> {
    s.iter().map(|sh| r.vec_away(numel(sh), 21.0, 30.0)).collect()
}

// ---------------------------------------------------------------------------------------
// Independent references (plain loops over row-major data).

pub fn map1(x: &[Vec<f64>], f: fn(f64) -> f64) -> Vec<f64> {
    x[0].iter().map(|&v| f(v)).collect()
}
pub fn map2(x: &[Vec<f64>], f: fn(f64, f64) -> f64) -> Vec<f64> {
    x[0].iter().zip(&x[1]).map(|(&a, &b)| f(a, b)).collect()
}
pub fn b2f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
/// Plain m×k · k×n product.
pub fn mm(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    out
}
pub fn sigmoid_ref(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
pub fn softplus_ref(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
/// Reduces each row of a [rows, cols] row-major matrix.
pub fn per_row(x: &[f64], cols: usize, f: fn(&[f64]) -> f64) -> Vec<f64> {
    x.chunks(cols).map(f).collect()
}

pub fn c(g: &Tensor, v: f64) -> Tensor {
    g.full_like(v)
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

pub fn is_zero_constant(t: &Tensor) -> bool {
    matches!(t.op(), Op::Constant { bits, .. } if f64::from_bits(bits) == 0.0)
}

pub fn check_row(row: &Row, seed: u64) -> Result<(), String> {
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

/// Checks every row of `family` in the whole table (two seeds per row), reporting all
/// failing rows at once.
pub fn check_family(family: Family) {
    let rows: Vec<Row> = crate::table().into_iter().filter(|r| r.family == family).collect();
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
