//! Forward Laplacian: values, c directional derivatives and their summed second
//! derivatives, pushed forward together in one sweep (Li et al., "Forward Laplacian: A
//! New Computational Framework for Neural Network-based Variational Monte Carlo", 2023).
//!
//! ## The maths
//!
//! Given seed directions e_1 … e_c for the primals (each a tangent of the primals), every
//! node y carries, besides its value,
//!
//! - its **tangents** J_y\[k\] = ∂y·e_k, stacked along a new leading axis: shape (c, …shape(y));
//! - its **partial Laplacian** L_y = Σ_k e_kᵀ ∇²y e_k (each element of y separately): shape(y).
//!
//! Along the line t ↦ x + t·e_k a node y = F(x₁ … xₙ) of its operands obeys the chain
//! rule to second order, d²y/dt² = Σᵢ ∂ᵢF·d²xᵢ/dt² + Σᵢⱼ ∂ᵢⱼF·(dxᵢ/dt)(dxⱼ/dt); summed over k:
//!
//! | op | J_y | L_y |
//! |---|---|---|
//! | linear A (neg, add, sub, reduce_sum, layout, convert) | A J_x | A L_x |
//! | u = φ(z), elementwise | φ′(z) J_z | φ′(z) L_z + φ″(z) Σ_k J_z,k² |
//! | y = g(a, b), elementwise | g_a J_a + g_b J_b | g_a L_a + g_b L_b + g_aa Σ_k J_a,k² + 2 g_ab Σ_k J_a,k J_b,k + g_bb Σ_k J_b,k² |
//! | y = a·b (dot) | J_a b + a J_b | L_a b + a L_b + 2 Σ_k J_a,k J_b,k |
//! | select(m, a, b) | select(m, J_a, J_b) | select(m, L_a, L_b) |
//! | reduce_max | Σ w J_x (w: reduce_max's tie weights) | Σ w L_x |
//! | compare, stop_gradient | 0 | 0 |
//!
//! (select and reduce_max are piecewise linear: their second derivative is zero where it
//! exists.) With e_k the D basis vectors of a row, L_y is the Laplacian Δy and J_y the
//! Jacobian; with a chunk of them, the part of both sums over that chunk, so a Laplacian
//! is the sum over chunks of directions and a zero direction adds nothing.
//!
//! ## Design
//!
//! - **No second-derivative rule per op.** φ″ and g_aa, g_ab, g_bb are the derivatives of
//!   each op's first-derivative rule (`UnaryOp::derivative`, `BinaryOp::partials`), taken
//!   by the forward transform with the other operand held fixed (`push_tangents` seeding
//!   it with no tangent). A new elementwise op thus gets its forward-Laplacian rule from
//!   its table row alone; the transform's tests iterate the tables.
//! - **Tangents are batched on a leading axis**, never by replicating the primal: the
//!   primal pass runs once on its own shapes, and a layer's c tangent products are one
//!   product of c times the rows (`dot`: (c·m, k)·(k, n)), which is why the transform
//!   costs about one primal pass per c directions and no reverse pass (the Hessian-vector
//!   route costs a forward-over-reverse pass per direction). Op parameters move one axis
//!   up for the tangents (`lift`).
//! - **Symbolic zeros** as in `jvp`: a node independent of the primals has no jet, and a
//!   node affine in them (a first layer) has tangents but no Laplacian (`None`), so
//!   φ′(z)·L_z is not emitted there. Zeros are materialised only at the outputs.
//! - Composable: the result is ordinary graph nodes, so `grad` of a loss built from them
//!   gives the training gradient (exact score matching in `scorematch`'s objectives).

use super::jvp::push_tangents;
use super::{same_graph, sweep_forward};
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::{Op, Partial, reduce, select};

/// The forward jet of one output: its tangents along the c seed directions, shape
/// (c, …shape(y)), and its partial Laplacian Σ_k e_kᵀ∇²y e_k, shape(y).
#[derive(Debug, Clone)]
pub struct Jet {
    /// J\[k\] = ∂y·e_k, stacked on a leading axis of size c.
    pub tangents: Tensor,
    /// Σ_k e_kᵀ ∇²y e_k, elementwise over y.
    pub laplacian: Tensor,
}

/// A node's jet inside the sweep: `None` fields are symbolic zeros.
#[derive(Clone, Default)]
pub(super) struct Slot {
    /// Tangents, (c, …shape).
    pub(super) j: Option<Tensor>,
    /// Partial Laplacian, shape.
    pub(super) l: Option<Tensor>,
}

/// The forward Laplacian of `outputs` in `primals` along seed directions: for each output,
/// its tangents ∂y·e_k (k = 1 … c) and Σ_k e_kᵀ∇²y e_k (see the module docs).
/// `directions[i]` holds primal i's components of the c directions, shape (c,
/// …shape(primals\[i\])), the same c for all. Primals may be inputs or intermediate nodes
/// (free variables), as in [`crate::jvp`]. For a batch whose rows do not interact, seed
/// directions of shape (c, B, D) give every row its own c directions at once.
pub fn laplacian(
    outputs: &[Tensor],
    primals: &[Tensor],
    directions: &[Tensor],
) -> Result<Vec<Jet>> {
    let c = check_directions("laplacian", primals, directions)?;
    same_graph("laplacian", &[outputs, primals, directions])?;
    let seeds = directions.iter().map(|d| Slot { j: Some(d.clone()), l: None });
    let slots = sweep_forward(
        outputs,
        primals,
        seeds,
        |s| s.j.is_some(),
        |y, x, ins| rule(&y.op(), x, y, ins, c),
    );
    Ok(outputs
        .iter()
        .map(|o| {
            let s = &slots[o.id().index()];
            let mut shape = vec![c];
            shape.extend_from_slice(o.shape());
            Jet {
                tangents: s.j.clone().unwrap_or_else(|| o.graph().constant(0.0, &shape, o.dtype())),
                laplacian: s.l.clone().unwrap_or_else(|| o.zeros_like()),
            }
        })
        .collect())
}

/// Checks a transform's seed directions: one tensor per primal, each (c, …shape of its
/// primal) in the primal's dtype with the same c ≥ 1; returns c.
pub(super) fn check_directions(
    transform: &'static str,
    primals: &[Tensor],
    directions: &[Tensor],
) -> Result<usize> {
    let fail = |message: String| GraphError::Transform { transform, message };
    if primals.len() != directions.len() {
        return Err(fail(format!(
            "{} primals but {} direction tensors",
            primals.len(),
            directions.len()
        )));
    }
    let c = directions.first().map_or(1, |d| d.shape().first().copied().unwrap_or(0));
    for (p, d) in primals.iter().zip(directions) {
        let mut want = vec![c];
        want.extend_from_slice(p.shape());
        if d.shape() != want.as_slice() || d.dtype() != p.dtype() || c == 0 {
            return Err(fail(format!(
                "directions of shape {:?} {} for a value of shape {:?} {}: expected (c, …value \
                 shape) with the same c ≥ 1 for every primal, in the value's dtype",
                d.shape(),
                d.dtype(),
                p.shape(),
                p.dtype()
            )));
        }
    }
    Ok(c)
}

/// The jet of `y = op(x)` from its operands' jets (at least one with tangents).
pub(super) fn rule(op: &Op, x: &[Tensor], y: &Tensor, ins: &[Slot], c: usize) -> Slot {
    match op {
        Op::Input { .. }
        | Op::Constant { .. }
        | Op::Literal { .. }
        | Op::Compare(_)
        | Op::StopGradient => Slot::default(),
        Op::Unary(u) => {
            let p = u.derivative(&x[0], y);
            let j0 = ins[0].j.as_ref().map(|t| p.apply(t));
            let curvature = second(&p, &x[0..1], 0)
                .and_then(|h| ins[0].j.as_ref().map(|t| h * sum_k(t * t, y.shape())));
            Slot { j: j0, l: add(ins[0].l.as_ref().map(|l| p.apply(l)), curvature) }
        }
        Op::Binary(b) if x[0].id() == x[1].id() => {
            // y = g(x, x): one operand, derivative g_a + g_b, curvature d(g_a + g_b)/dx.
            let (pa, pb) = b.partials(&x[0], &x[1], y);
            let both = |t: &Tensor| add(Some(pa.apply(t)), Some(pb.apply(t)));
            let h = add(second(&pa, &x[0..1], 0), second(&pb, &x[0..1], 0));
            let curvature = h.and_then(|h| ins[0].j.as_ref().map(|t| h * sum_k(t * t, y.shape())));
            Slot {
                j: ins[0].j.as_ref().and_then(both),
                l: add(ins[0].l.as_ref().and_then(both), curvature),
            }
        }
        Op::Binary(b) => {
            let (pa, pb) = b.partials(&x[0], &x[1], y);
            let (ja, jb) = (ins[0].j.as_ref(), ins[1].j.as_ref());
            let j = add(ja.map(|t| pa.apply(t)), jb.map(|t| pb.apply(t)));
            let mut l =
                add(ins[0].l.as_ref().map(|t| pa.apply(t)), ins[1].l.as_ref().map(|t| pb.apply(t)));
            let term = |h: Option<Tensor>, s: &dyn Fn() -> Tensor| h.map(|h| h * s());
            if let Some(ja) = ja {
                l = add(l, term(second(&pa, x, 0), &|| sum_k(ja * ja, y.shape())));
            }
            if let Some(jb) = jb {
                l = add(l, term(second(&pb, x, 1), &|| sum_k(jb * jb, y.shape())));
            }
            if let (Some(ja), Some(jb)) = (ja, jb) {
                l = add(l, term(second(&pa, x, 1), &|| 2.0 * sum_k(ja * jb, y.shape())));
            }
            Slot { j, l }
        }
        Op::Select => Slot {
            j: select::select_jvp(&x[0], ins[1].j.as_ref(), ins[2].j.as_ref()),
            l: select::select_jvp(&x[0], ins[1].l.as_ref(), ins[2].l.as_ref()),
        },
        Op::ReduceMax { axes } => {
            let w = reduce::max_weights(&x[0], y, axes);
            let up: Vec<usize> = axes.iter().map(|a| a + 1).collect();
            Slot {
                j: ins[0].j.as_ref().map(|t| (t * &w).reduce_sum_keep(&up)),
                l: ins[0].l.as_ref().map(|t| (t * &w).reduce_sum_keep(axes)),
            }
        }
        Op::Concat { axis } => {
            let part = |s: &Slot, xi: &Tensor, lifted: bool| match (lifted, &s.j, &s.l) {
                (true, Some(j), _) => j.clone(),
                (false, _, Some(l)) => l.clone(),
                (true, ..) => {
                    let mut shape = vec![c];
                    shape.extend_from_slice(xi.shape());
                    xi.graph().constant(0.0, &shape, xi.dtype())
                }
                (false, ..) => xi.zeros_like(),
            };
            let join = |lifted: bool| {
                let parts: Vec<Tensor> =
                    ins.iter().zip(x).map(|(s, xi)| part(s, xi, lifted)).collect();
                Tensor::concat(&parts, axis + usize::from(lifted))
            };
            Slot { j: Some(join(true)), l: ins.iter().any(|s| s.l.is_some()).then(|| join(false)) }
        }
        Op::Dot => {
            let (a, b) = (&x[0], &x[1]);
            let (ja, jb) = (ins[0].j.as_ref(), ins[1].j.as_ref());
            let j = add(ja.map(|t| dot_left(t, b)), jb.map(|t| a.matmul(t)));
            let mut l =
                add(ins[0].l.as_ref().map(|t| t.dot(b)), ins[1].l.as_ref().map(|t| a.dot(t)));
            if let (Some(ja), Some(jb)) = (ja, jb) {
                l = add(l, Some(2.0 * sum_k(ja.dot(jb), y.shape())));
            }
            Slot { j, l }
        }
        Op::Solve => {
            // A·X = B differentiated along direction k once and twice, summed over k:
            // Ẋ_k = A⁻¹(Ḃ_k − Ȧ_k·X) and ΔX = A⁻¹(ΔB − ΔA·X − 2Σ_k Ȧ_k·Ẋ_k).
            let a = &x[0];
            let mut lifted = vec![c];
            lifted.extend_from_slice(a.shape());
            let a_c = a.reshape(&[&[1], a.shape()].concat()).broadcast_to(&lifted);
            let (ja, jb) = (ins[0].j.as_ref(), ins[1].j.as_ref());
            let j = add(jb.cloned(), ja.map(|t| -t.matmul(y))).map(|r| a_c.solve(&r));
            let mut l = add(ins[1].l.clone(), ins[0].l.as_ref().map(|t| -t.matmul(y)));
            if let (Some(ja), Some(jx)) = (ja, j.as_ref()) {
                l = add(l, Some(-2.0 * sum_k(ja.matmul(jx), y.shape())));
            }
            Slot { j, l: l.map(|r| a.solve(&r)) }
        }
        // One operand, linear (`Op::is_linear`): tangents and Laplacian both go through the
        // op, the tangents with its axes moved one up.
        Op::ReduceSum { .. }
        | Op::Reshape { .. }
        | Op::Broadcast { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Pad { .. }
        | Op::Convert { .. } => Slot {
            j: ins[0].j.as_ref().map(|t| t.apply(lift(op, c), &[])),
            l: ins[0].l.as_ref().map(|t| t.apply(op.clone(), &[])),
        },
    }
}

/// The derivative of a first-derivative factor `p` (a function of `wrt`) in `wrt[which]`,
/// the other operands held fixed, along a tangent of ones: for elementwise ops, the second
/// partial itself. `None` when it is zero (±1 factors, or `p` independent of that operand).
fn second(p: &Partial, wrt: &[Tensor], which: usize) -> Option<Tensor> {
    let Partial::By(p) = p else { return None };
    let seeds: Vec<Option<Tensor>> =
        wrt.iter().enumerate().map(|(i, w)| (i == which).then(|| w.ones_like())).collect();
    push_tangents(std::slice::from_ref(p), wrt, &seeds).remove(0)
}

/// Σ_k over the leading direction axis of `t` (c, …shape), as a tensor of `shape`.
fn sum_k(t: Tensor, shape: &[usize]) -> Tensor {
    t.reduce_sum_keep(&[0]).reshape(shape)
}

/// Sum of two optional terms, absent = zero.
fn add(a: Option<Tensor>, b: Option<Tensor>) -> Option<Tensor> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Tangents (c, …, m, k) times an operand (…, k, n): with no batch axes, one product of
/// c·m rows, (c·m, k)·(k, n); otherwise a batched product with the operand broadcast.
/// Tangents equal on every row (a broadcast of (c, 1, k): the same directions for every
/// sample of a batch, as exact SM seeds them) are multiplied once, (c, k)·(k, n), and the
/// product broadcast: m times fewer operations, in the forward sweep and in its gradient.
fn dot_left(t: &Tensor, b: &Tensor) -> Tensor {
    if b.rank() != 2 {
        return t.matmul(b);
    }
    let (c, m, k, n) = (t.shape()[0], t.shape()[1], t.shape()[2], b.shape()[1]);
    let rows = t.operands().into_iter().next().filter(|src| {
        matches!(t.op(), Op::Broadcast { .. }) && src.shape() == [c, 1, k].as_slice()
    });
    match rows {
        Some(src) => src.reshape(&[c, k]).dot(b).reshape(&[c, 1, n]).broadcast_to(&[c, m, n]),
        None => t.reshape(&[c * m, k]).dot(b).reshape(&[c, m, n]),
    }
}

/// The op acting on tangents stacked on a new leading axis of size `c`: axis parameters
/// move one up, target shapes gain the leading c.
fn lift(op: &Op, c: usize) -> Op {
    let up = |v: &[usize]| -> Vec<usize> { v.iter().map(|a| a + 1).collect() };
    let front = |first: usize, v: &[usize]| -> Vec<usize> {
        std::iter::once(first).chain(v.iter().copied()).collect()
    };
    match op {
        Op::ReduceSum { axes } => Op::ReduceSum { axes: up(axes) },
        Op::Reshape { shape } => Op::Reshape { shape: front(c, shape) },
        Op::Broadcast { shape } => Op::Broadcast { shape: front(c, shape) },
        Op::Transpose { perm } => Op::Transpose { perm: front(0, &up(perm)) },
        Op::Slice { lo, hi } => Op::Slice { lo: front(0, lo), hi: front(c, hi) },
        Op::Pad { lo, hi } => Op::Pad { lo: front(0, lo), hi: front(0, hi) },
        other => other.clone(),
    }
}
