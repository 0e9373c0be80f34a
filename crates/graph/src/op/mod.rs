//! The primitives. Each op family lives in one file with its shape rule, derivative rules
//! and reference kernel; this module holds the [`Op`] enum and the three dispatchers
//! (shape, kernel, derivative) that route a node to its family.
//!
//! Adding an op: its variant (here or in its family's enum), its arms in the family file,
//! one row in the op test table (`tests/op_table/`, in its family's file).

pub mod binary;
pub mod dot;
pub mod layout;
pub mod reduce;
pub mod select;
pub mod source;
pub mod unary;

pub use binary::BinaryOp;
pub use select::CmpOp;
pub use source::LiteralData;
pub use unary::UnaryOp;

use crate::dtype::{DType, Element};
use crate::error::{GraphError, Result};
use crate::graph::Tensor;

/// A primitive with its static parameters. Nodes are `(Op, operands)`; equal pairs are
/// merged by the builder (hash-consing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// A value fed at run time; `index` is its position in the graph's input list.
    Input {
        /// Position in the graph's input list.
        index: usize,
        /// Static shape.
        shape: Vec<usize>,
        /// Element type.
        dtype: DType,
    },
    /// A tensor filled with one value (`f64` bits, so the op can be hashed).
    Constant {
        /// `f64::to_bits` of the fill value.
        bits: u64,
        /// Static shape.
        shape: Vec<usize>,
        /// Element type.
        dtype: DType,
    },
    /// A tensor of given values, row-major.
    Literal {
        /// The values.
        data: LiteralData,
        /// Static shape.
        shape: Vec<usize>,
        /// Element type.
        dtype: DType,
    },
    /// Pointwise unary map.
    Unary(UnaryOp),
    /// Pointwise binary map on equal shapes.
    Binary(BinaryOp),
    /// Pointwise comparison giving a 0/1 mask.
    Compare(CmpOp),
    /// select(c, a, b) = a where c ≠ 0, else b.
    Select,
    /// Sum over axes, kept as size 1.
    ReduceSum {
        /// Reduced axes.
        axes: Vec<usize>,
    },
    /// Max over axes, kept as size 1.
    ReduceMax {
        /// Reduced axes.
        axes: Vec<usize>,
    },
    /// Same elements, new shape.
    Reshape {
        /// Target shape.
        shape: Vec<usize>,
    },
    /// Repeat size-1 axes up to `shape` (same rank).
    Broadcast {
        /// Target shape.
        shape: Vec<usize>,
    },
    /// Permute axes: output axis i is input axis `perm[i]`.
    Transpose {
        /// The permutation.
        perm: Vec<usize>,
    },
    /// Contiguous sub-block `lo..hi` per axis.
    Slice {
        /// Start per axis.
        lo: Vec<usize>,
        /// End (exclusive) per axis.
        hi: Vec<usize>,
    },
    /// Zero padding `lo` before and `hi` after per axis.
    Pad {
        /// Zeros before, per axis.
        lo: Vec<usize>,
        /// Zeros after, per axis.
        hi: Vec<usize>,
    },
    /// Join operands along an axis.
    Concat {
        /// The axis.
        axis: usize,
    },
    /// Batched matrix product.
    Dot,
    /// Cast to another element type.
    Convert {
        /// Target type.
        dtype: DType,
    },
    /// Identity with zero derivative.
    StopGradient,
}

/// A kernel operand: a shape and its row-major data.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a, T> {
    /// The operand's shape.
    pub shape: &'a [usize],
    /// Its elements, row-major.
    pub data: &'a [T],
}

impl Op {
    /// The op's name, as it appears in errors and dumps.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Constant { .. } => "constant",
            Op::Literal { .. } => "literal",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Compare(c) => c.name(),
            Op::Select => "select",
            Op::ReduceSum { .. } => "reduce_sum",
            Op::ReduceMax { .. } => "reduce_max",
            Op::Reshape { .. } => "reshape",
            Op::Broadcast { .. } => "broadcast",
            Op::Transpose { .. } => "transpose",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::Dot => "dot",
            Op::Convert { .. } => "convert",
            Op::StopGradient => "stop_gradient",
        }
    }

    /// Number of operands the op takes (`None`: any number ≥ 1).
    fn arity(&self) -> Option<usize> {
        match self {
            Op::Input { .. } | Op::Constant { .. } | Op::Literal { .. } => Some(0),
            Op::Binary(_) | Op::Compare(_) | Op::Dot => Some(2),
            Op::Select => Some(3),
            Op::Concat { .. } => None,
            _ => Some(1),
        }
    }

    /// The shape rule: output shape and dtype from operand shapes and dtypes.
    pub fn infer(&self, operands: &[(&[usize], DType)]) -> Result<(Vec<usize>, DType)> {
        let shapes: Vec<&[usize]> = operands.iter().map(|o| o.0).collect();
        if let Some(n) = self.arity() {
            if operands.len() != n {
                return Err(GraphError::Shape {
                    op: self.name(),
                    shapes: shapes.iter().map(|s| s.to_vec()).collect(),
                    message: format!("expected {n} operands, got {}", operands.len()),
                });
            }
        } else if operands.is_empty() {
            return Err(GraphError::Shape {
                op: self.name(),
                shapes: vec![],
                message: "expected at least one operand".into(),
            });
        }
        // Every multi-operand op needs one common dtype (select's mask included).
        let dtype = operands.first().map(|o| o.1);
        for o in operands.iter().skip(1) {
            let d0 = dtype.unwrap_or(o.1);
            if o.1 != d0 {
                return Err(GraphError::DType { op: self.name(), lhs: d0, rhs: o.1 });
            }
        }
        let same = |n: &'static str| -> Result<Vec<usize>> {
            if shapes.iter().all(|s| *s == shapes[0]) {
                Ok(shapes[0].to_vec())
            } else {
                Err(GraphError::Shape {
                    op: n,
                    shapes: shapes.iter().map(|s| s.to_vec()).collect(),
                    message: "operands must have equal shapes (broadcast explicitly)".into(),
                })
            }
        };
        let name = self.name();
        let shape = match self {
            Op::Input { shape, dtype, .. }
            | Op::Constant { shape, dtype, .. }
            | Op::Literal { shape, dtype, .. } => return Ok((shape.clone(), *dtype)),
            Op::Convert { dtype } => return Ok((shapes[0].to_vec(), *dtype)),
            Op::Unary(_) | Op::StopGradient => shapes[0].to_vec(),
            Op::Binary(_) | Op::Compare(_) | Op::Select => same(name)?,
            Op::ReduceSum { axes } | Op::ReduceMax { axes } => {
                reduce::shape(name, shapes[0], axes)?
            }
            Op::Reshape { shape } => layout::reshape_shape(shapes[0], shape)?,
            Op::Broadcast { shape } => layout::broadcast_shape(shapes[0], shape)?,
            Op::Transpose { perm } => layout::transpose_shape(shapes[0], perm)?,
            Op::Slice { lo, hi } => layout::slice_shape(shapes[0], lo, hi)?,
            Op::Pad { lo, hi } => layout::pad_shape(shapes[0], lo, hi)?,
            Op::Concat { axis } => layout::concat_shape(&shapes, *axis)?,
            Op::Dot => dot::shape(shapes[0], shapes[1])?,
        };
        Ok((shape, dtype.unwrap_or(DType::F64)))
    }

    /// The reference kernel: naive, obviously correct, generic over the element type.
    /// Writes the output into `out` (caller-owned, of the output's element count). An
    /// input's value is the caller's to supply; for `Op::Input` this does nothing.
    pub fn reference_kernel<T: Element>(
        &self,
        operands: &[Operand<T>],
        out_shape: &[usize],
        out: &mut [T],
    ) {
        let x = || operands[0];
        let zip2 = |out: &mut [T], f: &dyn Fn(T, T) -> T| {
            let (a, b) = (operands[0].data, operands[1].data);
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(a[i], b[i]);
            }
        };
        match self {
            Op::Input { .. } => {}
            Op::Constant { bits, .. } => source::constant_kernel(f64::from_bits(*bits), out),
            Op::Literal { data, .. } => source::literal_kernel(data, out),
            Op::Unary(u) => out.iter_mut().zip(x().data).for_each(|(o, &v)| *o = u.apply(v)),
            Op::Binary(b) => zip2(out, &|p, q| b.apply(p, q)),
            Op::Compare(c) => zip2(out, &|p, q| c.apply(p, q)),
            Op::Select => {
                let (c, a, b) = (operands[0].data, operands[1].data, operands[2].data);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = select::select_apply(c[i], a[i], b[i]);
                }
            }
            Op::ReduceSum { .. } => reduce::sum_kernel(x(), out_shape, out),
            Op::ReduceMax { .. } => reduce::max_kernel(x(), out_shape, out),
            Op::Reshape { .. } | Op::Convert { .. } | Op::StopGradient => {
                out.copy_from_slice(x().data)
            }
            Op::Broadcast { .. } => layout::broadcast_kernel(x(), out_shape, out),
            Op::Transpose { perm } => layout::transpose_kernel(x(), perm, out_shape, out),
            Op::Slice { lo, .. } => layout::slice_kernel(x(), lo, out_shape, out),
            Op::Pad { lo, .. } => layout::pad_kernel(x(), lo, out_shape, out),
            Op::Concat { axis } => layout::concat_kernel(operands, *axis, out_shape, out),
            Op::Dot => dot::kernel(operands[0], operands[1], out_shape, out),
        }
    }

    /// The JVP rule, in primitives: the output tangent from operand primals `x`, the output
    /// `y` and operand tangents `t` (`None` = symbolic zero). Returns `None` when the output
    /// tangent is zero.
    pub(crate) fn jvp(&self, x: &[Tensor], y: &Tensor, t: &[Option<Tensor>]) -> Option<Tensor> {
        let t0 = || t[0].as_ref();
        if t.iter().all(Option::is_none) {
            return None;
        }
        match self {
            Op::Input { .. } | Op::Constant { .. } | Op::Literal { .. } => None,
            Op::Compare(_) | Op::StopGradient => None,
            Op::Unary(u) => t0().map(|tx| u.jvp(&x[0], y, tx)),
            Op::Binary(b) => b.jvp(&x[0], &x[1], y, t0(), t[1].as_ref()),
            Op::Select => select::select_jvp(&x[0], t[1].as_ref(), t[2].as_ref()),
            Op::ReduceMax { axes } => t0().map(|tx| reduce::max_jvp(&x[0], y, axes, tx)),
            Op::Dot => dot::jvp(&x[0], &x[1], t0(), t[1].as_ref()),
            Op::Concat { axis } => {
                let parts: Vec<Tensor> = t
                    .iter()
                    .zip(x)
                    .map(|(ti, xi)| ti.clone().unwrap_or_else(|| xi.zeros_like()))
                    .collect();
                Some(Tensor::concat(&parts, *axis))
            }
            // The remaining ops are linear and unary: apply the op to the tangent.
            _ => t0().map(|tx| tx.apply(self.clone(), &[])),
        }
    }

    /// The VJP rule, in primitives: operand cotangents from operand primals `x`, the output
    /// `y` and the output cotangent `ybar`. `None` marks an operand with no cotangent.
    pub(crate) fn vjp(&self, x: &[Tensor], y: &Tensor, ybar: &Tensor) -> Vec<Option<Tensor>> {
        let one = |t: Tensor| vec![Some(t)];
        match self {
            Op::Input { .. } | Op::Constant { .. } | Op::Literal { .. } => vec![],
            Op::Compare(_) => vec![None, None],
            Op::StopGradient => vec![None],
            Op::Unary(u) => one(u.vjp(&x[0], y, ybar)),
            Op::Binary(b) => b.vjp(&x[0], &x[1], y, ybar).map(Some).to_vec(),
            Op::Select => {
                let [a, b] = select::select_vjp(&x[0], ybar);
                vec![None, Some(a), Some(b)]
            }
            Op::ReduceSum { .. } => one(ybar.broadcast_to(x[0].shape())),
            Op::ReduceMax { axes } => one(reduce::max_vjp(&x[0], y, axes, ybar)),
            Op::Reshape { .. } => one(ybar.reshape(x[0].shape())),
            Op::Broadcast { .. } => one(layout::broadcast_vjp(x[0].shape(), ybar)),
            Op::Transpose { perm } => one(layout::transpose_vjp(perm, ybar)),
            Op::Slice { lo, hi } => one(layout::slice_vjp(x[0].shape(), lo, hi, ybar)),
            Op::Pad { lo, .. } => one(layout::pad_vjp(x[0].shape(), lo, ybar)),
            Op::Concat { axis } => {
                let shapes: Vec<Vec<usize>> = x.iter().map(|xi| xi.shape().to_vec()).collect();
                layout::concat_vjp(&shapes, *axis, ybar).into_iter().map(Some).collect()
            }
            Op::Dot => dot::vjp(&x[0], &x[1], ybar).map(Some).to_vec(),
            Op::Convert { .. } => one(ybar.convert(x[0].dtype())),
        }
    }
}
