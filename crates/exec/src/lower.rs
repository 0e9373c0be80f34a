//! Kernel selection: turns one graph node (op and static shapes) into a [`Kernel`], or
//! says that the node is a no-op on memory ([`Lowered::Alias`]).

use scorematch_graph::Op;
use scorematch_graph::shape::{numel, strides};

use crate::instr::{Kernel, RefKernel};
use crate::kernels::layout::Strided;
use crate::kernels::matmul::DotPlan;
use crate::kernels::reduce::{ReduceKind, ReducePlan};

/// How a node is computed (a compile-time value, moved once into its instruction).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lowered {
    /// The node's value is its first operand's memory, reinterpreted (reshape,
    /// stop_gradient, a same-dtype convert, a transpose or slice that moves nothing).
    Alias,
    /// One instruction with this kernel, reading all operands.
    Emit(Kernel),
}

/// The fallback: the graph crate's reference kernel.
fn reference(op: &Op, ins: &[&[usize]], out: &[usize]) -> Lowered {
    Lowered::Emit(Kernel::Reference(Box::new(RefKernel {
        op: op.clone(),
        in_shapes: ins.iter().map(|s| s.to_vec()).collect(),
        out_shape: out.to_vec(),
    })))
}

/// A gather op: alias when it moves nothing, a blocked transpose when it is one, the
/// strided engine otherwise, the reference kernel past the engine's rank.
fn gather(op: &Op, x: &[usize], out: &[usize], src: &[usize], off: usize) -> Lowered {
    match Strided::gather(out, src, off) {
        Some(p) if p.is_identity(numel(out)) && numel(out) == numel(x) => Lowered::Alias,
        Some(p) => match p.as_transpose2() {
            Some(t) => Lowered::Emit(Kernel::Transpose2(t)),
            None => Lowered::Emit(Kernel::Gather(p)),
        },
        None => reference(op, &[x], out),
    }
}

/// Selects the kernel for `op` over operands of shapes `ins`, producing shape `out`.
/// `transposed[k]` says that operand k of a `dot` is read through an absorbed `mt`
/// (its shape in `ins` is then the shape *before* the transpose).
pub(crate) fn lower(op: &Op, ins: &[&[usize]], out: &[usize], transposed: &[bool]) -> Lowered {
    match op {
        Op::Reshape { .. } | Op::StopGradient | Op::Convert { .. } => Lowered::Alias,
        Op::ReduceSum { axes } | Op::ReduceMax { axes } => {
            let kind =
                if matches!(op, Op::ReduceSum { .. }) { ReduceKind::Sum } else { ReduceKind::Max };
            if axes.iter().all(|&a| ins[0][a] == 1) {
                return Lowered::Alias;
            }
            match ReducePlan::new(ins[0], axes) {
                Some(p) => Lowered::Emit(Kernel::Reduce(kind, p)),
                None => reference(op, ins, out),
            }
        }
        Op::Broadcast { .. } => {
            let xs = strides(ins[0]);
            let src: Vec<usize> =
                (0..out.len()).map(|a| if ins[0][a] == 1 { 0 } else { xs[a] }).collect();
            gather(op, ins[0], out, &src, 0)
        }
        Op::Transpose { perm } => {
            let xs = strides(ins[0]);
            let src: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
            gather(op, ins[0], out, &src, 0)
        }
        Op::Slice { lo, .. } => {
            let xs = strides(ins[0]);
            let off = lo.iter().zip(&xs).map(|(l, s)| l * s).sum();
            gather(op, ins[0], out, &xs, off)
        }
        Op::Pad { lo, .. } => {
            if numel(out) == numel(ins[0]) {
                return Lowered::Alias; // nothing added: the operand's memory as it is
            }
            let os = strides(out);
            let off = lo.iter().zip(&os).map(|(l, s)| l * s).sum();
            match Strided::scatter(ins[0], &os, off) {
                Some(p) => Lowered::Emit(Kernel::Pad(p)),
                None => reference(op, ins, out),
            }
        }
        Op::Concat { axis } => {
            let os = strides(out);
            let mut start = 0;
            let mut parts = Vec::with_capacity(ins.len());
            for x in ins {
                match Strided::scatter(x, &os, start * os[*axis]) {
                    Some(p) => parts.push(p),
                    None => return reference(op, ins, out),
                }
                start += x[*axis];
            }
            Lowered::Emit(Kernel::Concat(parts))
        }
        Op::Dot => {
            let r = out.len();
            let (a_t, b_t) = (transposed[0], transposed[1]);
            let a = ins[0];
            // The stored operand is [.., k, m] when read transposed.
            let (m, k) = if a_t { (a[r - 1], a[r - 2]) } else { (a[r - 2], a[r - 1]) };
            let n = out[r - 1];
            let batch = out[..r - 2].iter().product();
            Lowered::Emit(Kernel::Dot(DotPlan { batch, m, k, n, a_t, b_t, accumulate: false }))
        }
        // A linear solve is small next to the products around it (n³/3 per system): the
        // reference kernel serves until profiling asks for a fast one.
        Op::Solve => reference(op, ins, out),
        // Sources and elementwise nodes (fused kernels) are handled by the compiler; the
        // reference kernel is the honest fallback should one reach here.
        Op::Input { .. }
        | Op::Constant { .. }
        | Op::Literal { .. }
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Compare(_)
        | Op::Select => reference(op, ins, out),
    }
}
