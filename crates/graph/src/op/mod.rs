//! The primitives. Each op family lives in one file with its shape rule, derivative rules
//! and reference kernel; this module holds the [`Op`] enum, the three dispatchers (shape,
//! kernel, derivative) that route a node to its family, and the classification every
//! consumer of the IR shares ([`Op::is_elementwise`], [`Op::is_view`], [`Op::is_gather`],
//! [`Op::is_cheap`], [`Op::is_linear`]) — the executor asks these, and keeps no list of
//! its own.
//!
//! ## Adding an op
//!
//! - **Elementwise unary or binary**: one row in the table at the bottom of `unary.rs` or
//!   `binary.rs` — doc comment with the maths (definition, derivative, domain), variant,
//!   name, `Tensor` method, reference kernel, derivative in primitives, classification.
//!   The row generates the enum variant, [`UnaryOp::ALL`] / [`BinaryOp::ALL`], the
//!   reference kernels (`apply`, `map`), the derivative rule and the builder method. Then
//!   one row in the op test table (`tests/op_table/unary.rs` or `binary.rs`), which fails
//!   until it is there; the executor's tests iterate `ALL` on their own. The executor runs
//!   the new op through its reference kernel inside fused kernels until a fast one is
//!   registered (`scorematch-exec`, `kernels/fastmath.rs`).
//! - **Any other op**: its variant here (the exhaustive matches below then say which
//!   dispatch arms it needs: shape, kernel, JVP, VJP, classification), its rules in its
//!   family's file, and a row in the op test table; the table's coverage test lists one op
//!   of every kind behind an exhaustive match, so it does not compile until the new kind is
//!   listed there, and then fails until it has a row.

pub mod binary;
pub mod dot;
pub mod layout;
pub mod reduce;
pub mod select;
pub mod solve;
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
    /// Batched linear solve: X = A⁻¹B for a: [..., n, n], b: [..., n, k].
    Solve,
    /// Cast to another element type.
    Convert {
        /// Target type.
        dtype: DType,
    },
    /// Identity with zero derivative.
    StopGradient,
}

/// A derivative factor of a pointwise op, kept symbolic when it is ±1 so that no
/// multiplication is emitted.
pub(crate) enum Partial {
    /// The factor 1.
    One,
    /// The factor −1.
    MinusOne,
    /// A factor computed in the graph.
    By(Tensor),
}

impl Partial {
    /// Scales a tangent or cotangent `t` by the factor.
    pub(crate) fn apply(&self, t: &Tensor) -> Tensor {
        match self {
            Partial::One => t.clone(),
            Partial::MinusOne => -t,
            Partial::By(s) => t * s,
        }
    }
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
            Op::Solve => "solve",
            Op::Convert { .. } => "convert",
            Op::StopGradient => "stop_gradient",
        }
    }

    /// A positionwise map over operands of one shape (unary, binary, compare, select):
    /// output element i depends on operand elements i only. These are what the executor
    /// fuses into one pass over the elements.
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select)
    }

    /// The op passes its operand's elements through, in order (reshape, stop_gradient, and
    /// convert, which changes only their type): in a program of one dtype its value can
    /// share its operand's memory.
    pub fn is_view(&self) -> bool {
        matches!(self, Op::Reshape { .. } | Op::StopGradient | Op::Convert { .. })
    }

    /// Every output element is a copy of one operand element (views, broadcast, transpose,
    /// slice), so a uniform operand gives a uniform result.
    pub fn is_gather(&self) -> bool {
        self.is_view()
            || matches!(self, Op::Broadcast { .. } | Op::Transpose { .. } | Op::Slice { .. })
    }

    /// A transpose that swaps the last two axes and keeps the others (`Tensor::mt`).
    pub fn is_matrix_transpose(&self) -> bool {
        let Op::Transpose { perm } = self else { return false };
        let r = perm.len();
        r >= 2
            && perm[r - 2] == r - 1
            && perm[r - 1] == r - 2
            && perm[..r - 2].iter().enumerate().all(|(i, &p)| i == p)
    }

    /// An elementwise op cheap enough to recompute where it is read rather than store and
    /// reload: the tables' `cheap` flag for unary and binary ops; compare and select.
    pub fn is_cheap(&self) -> bool {
        match self {
            Op::Unary(u) => u.is_cheap(),
            Op::Binary(b) => b.is_cheap(),
            Op::Compare(_) | Op::Select => true,
            _ => false,
        }
    }

    /// A linear map of its operands jointly, so its JVP is the op applied to the tangents
    /// (neg, add, sub; reduce_sum; the layout ops; convert). Select is linear in its
    /// branches only, stop_gradient has derivative zero: neither is linear here.
    pub fn is_linear(&self) -> bool {
        match self {
            Op::Unary(u) => u.is_linear(),
            Op::Binary(b) => b.is_linear(),
            Op::ReduceSum { .. }
            | Op::Reshape { .. }
            | Op::Broadcast { .. }
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Concat { .. }
            | Op::Convert { .. } => true,
            Op::Input { .. }
            | Op::Constant { .. }
            | Op::Literal { .. }
            | Op::Compare(_)
            | Op::Select
            | Op::ReduceMax { .. }
            | Op::Dot
            | Op::Solve
            | Op::StopGradient => false,
        }
    }

    /// Number of operands the op takes (`None`: any number ≥ 1).
    fn arity(&self) -> Option<usize> {
        match self {
            Op::Input { .. } | Op::Constant { .. } | Op::Literal { .. } => Some(0),
            Op::Binary(_) | Op::Compare(_) | Op::Dot | Op::Solve => Some(2),
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
            Op::Solve => solve::shape(shapes[0], shapes[1])?,
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
        let data = |k: usize| operands[k].data;
        match self {
            Op::Input { .. } => {}
            Op::Constant { bits, .. } => source::constant_kernel(f64::from_bits(*bits), out),
            Op::Literal { data, .. } => source::literal_kernel(data, out),
            Op::Unary(u) => u.map(data(0), out),
            Op::Binary(b) => b.map(data(0), data(1), out),
            Op::Compare(c) => c.map(data(0), data(1), out),
            Op::Select => select::select_map(data(0), data(1), data(2), out),
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
            Op::Solve => solve::kernel(operands[0], operands[1], out),
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
            Op::Solve => solve::jvp(&x[0], y, t0(), t[1].as_ref()),
            Op::Concat { axis } => {
                let parts: Vec<Tensor> = t
                    .iter()
                    .zip(x)
                    .map(|(ti, xi)| ti.clone().unwrap_or_else(|| xi.zeros_like()))
                    .collect();
                Some(Tensor::concat(&parts, *axis))
            }
            // Every remaining op has one operand and is linear (`is_linear`, checked by the
            // op table): its JVP is the op applied to the tangent.
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
            Op::Solve => solve::vjp(&x[0], y, ybar).map(Some).to_vec(),
            Op::Convert { .. } => one(ybar.convert(x[0].dtype())),
        }
    }
}
