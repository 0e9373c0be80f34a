//! The ergonomic tensor API: methods and operator overloads on [`Tensor`] handles.
//!
//! Binary methods and operators follow NumPy broadcasting by inserting explicit `reshape`
//! and `broadcast` nodes, so primitives only ever see equal shapes. Scalars (`f64`) become
//! constants of the other operand's shape and dtype. The panicking forms are for graph code
//! whose shapes are right by construction; `try_*` forms return the shape error instead.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::dtype::DType;
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::{BinaryOp, CmpOp, Op, UnaryOp};
use crate::shape::{broadcast_shapes, normalize_axis};

fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

impl Tensor {
    fn unary(&self, u: UnaryOp) -> Tensor {
        self.apply(Op::Unary(u), &[])
    }

    /// eˣ, elementwise.
    pub fn exp(&self) -> Tensor {
        self.unary(UnaryOp::Exp)
    }
    /// ln x, elementwise.
    pub fn log(&self) -> Tensor {
        self.unary(UnaryOp::Log)
    }
    /// ln(1 + x), elementwise.
    pub fn log1p(&self) -> Tensor {
        self.unary(UnaryOp::Log1p)
    }
    /// tanh x, elementwise.
    pub fn tanh(&self) -> Tensor {
        self.unary(UnaryOp::Tanh)
    }
    /// √x, elementwise.
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }
    /// 1/x, elementwise.
    pub fn recip(&self) -> Tensor {
        self.unary(UnaryOp::Recip)
    }
    /// |x|, elementwise.
    pub fn abs(&self) -> Tensor {
        self.unary(UnaryOp::Abs)
    }
    /// sin x, elementwise.
    pub fn sin(&self) -> Tensor {
        self.unary(UnaryOp::Sin)
    }
    /// cos x, elementwise.
    pub fn cos(&self) -> Tensor {
        self.unary(UnaryOp::Cos)
    }

    /// A constant of this tensor's shape and dtype.
    pub fn full_like(&self, value: f64) -> Tensor {
        self.graph.constant(value, &self.shape, self.dtype)
    }
    /// Zeros of this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        self.full_like(0.0)
    }
    /// Ones of this tensor's shape and dtype.
    pub fn ones_like(&self) -> Tensor {
        self.full_like(1.0)
    }

    /// Broadcasts `self` and `other` to their common NumPy shape.
    pub fn try_broadcast_pair(&self, other: &Tensor) -> Result<(Tensor, Tensor)> {
        let shape =
            broadcast_shapes(&self.shape, &other.shape).ok_or_else(|| GraphError::Shape {
                op: "broadcast",
                shapes: vec![self.shape.to_vec(), other.shape.to_vec()],
                message: "shapes are not broadcast-compatible".into(),
            })?;
        Ok((self.try_broadcast_to(&shape)?, other.try_broadcast_to(&shape)?))
    }

    /// NumPy `broadcast_to`: prepend size-1 axes, then repeat size-1 axes.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if *self.shape == *shape {
            return Ok(self.clone());
        }
        if shape.len() < self.rank() {
            return Err(GraphError::Shape {
                op: "broadcast",
                shapes: vec![self.shape.to_vec()],
                message: format!("cannot broadcast to lower rank {shape:?}"),
            });
        }
        let mut padded = vec![1; shape.len() - self.rank()];
        padded.extend_from_slice(&self.shape);
        let x = self.try_reshape(&padded)?;
        if padded == shape {
            return Ok(x);
        }
        x.try_apply(Op::Broadcast { shape: shape.to_vec() }, &[])
    }

    /// Panicking form of [`Tensor::try_broadcast_to`].
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        ok(self.try_broadcast_to(shape))
    }

    /// Elementwise binary op with broadcasting.
    pub fn try_binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        let (a, b) = self.try_broadcast_pair(other)?;
        a.try_apply(Op::Binary(op), &[&b])
    }

    /// Elementwise max(a, b) with broadcasting.
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        ok(self.try_binary(BinaryOp::Max, other))
    }

    /// Elementwise min(a, b) = −max(−a, −b).
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        -(-self).maximum(&-other)
    }

    fn compare(&self, c: CmpOp, other: &Tensor) -> Tensor {
        let (a, b) = ok(self.try_broadcast_pair(other));
        a.apply(Op::Compare(c), &[&b])
    }
    /// Mask 𝟙(a < b) (1 or 0).
    pub fn lt(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Lt, other)
    }
    /// Mask 𝟙(a ≤ b).
    pub fn le(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Le, other)
    }
    /// Mask 𝟙(a > b).
    pub fn gt(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Gt, other)
    }
    /// Mask 𝟙(a ≥ b).
    pub fn ge(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Ge, other)
    }
    /// Mask 𝟙(a = b).
    pub fn eq(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Eq, other)
    }
    /// Mask 𝟙(a ≠ b).
    pub fn ne(&self, other: &Tensor) -> Tensor {
        self.compare(CmpOp::Ne, other)
    }

    /// `self` is the condition: `a` where it is non-zero, `b` elsewhere (broadcasting).
    pub fn select(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let shape = broadcast_shapes(&self.shape, a.shape())
            .and_then(|s| broadcast_shapes(&s, b.shape()))
            .unwrap_or_else(|| self.shape.to_vec());
        let c = self.broadcast_to(&shape);
        c.apply(Op::Select, &[&a.broadcast_to(&shape), &b.broadcast_to(&shape)])
    }

    /// Sum over `axes`, keeping them as size 1 (the primitive).
    pub fn reduce_sum_keep(&self, axes: &[usize]) -> Tensor {
        if axes.is_empty() {
            return self.clone();
        }
        self.apply(Op::ReduceSum { axes: axes.to_vec() }, &[])
    }

    /// Max over `axes`, keeping them as size 1 (the primitive).
    pub fn reduce_max_keep(&self, axes: &[usize]) -> Tensor {
        if axes.is_empty() {
            return self.clone();
        }
        self.apply(Op::ReduceMax { axes: axes.to_vec() }, &[])
    }

    fn axes(&self, axes: &[isize]) -> Result<Vec<usize>> {
        axes.iter()
            .map(|&a| {
                normalize_axis(a, self.rank()).ok_or_else(|| GraphError::Shape {
                    op: "reduce",
                    shapes: vec![self.shape.to_vec()],
                    message: format!("axis {a} out of range"),
                })
            })
            .collect()
    }

    fn drop_axes(&self, kept: Tensor, axes: &[usize]) -> Tensor {
        let shape: Vec<usize> =
            (0..self.rank()).filter(|i| !axes.contains(i)).map(|i| self.shape[i]).collect();
        kept.reshape(&shape)
    }

    /// Sum over `axes` (negative counts from the end), removing them.
    pub fn sum(&self, axes: &[isize]) -> Tensor {
        let axes = ok(self.axes(axes));
        self.drop_axes(self.reduce_sum_keep(&axes), &axes)
    }

    /// Sum of all elements, as a scalar.
    pub fn sum_all(&self) -> Tensor {
        let all: Vec<usize> = (0..self.rank()).collect();
        self.drop_axes(self.reduce_sum_keep(&all), &all)
    }

    /// Mean over `axes`, removing them.
    pub fn mean(&self, axes: &[isize]) -> Tensor {
        let norm = ok(self.axes(axes)).iter().map(|&a| self.shape[a]).product::<usize>();
        self.sum(axes) / norm as f64
    }

    /// Mean of all elements, as a scalar.
    pub fn mean_all(&self) -> Tensor {
        self.sum_all() / self.numel() as f64
    }

    /// Max over `axes`, removing them.
    pub fn max(&self, axes: &[isize]) -> Tensor {
        let axes = ok(self.axes(axes));
        self.drop_axes(self.reduce_max_keep(&axes), &axes)
    }

    /// Same elements in a new shape (no node when the shape is unchanged).
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if *self.shape == *shape {
            return Ok(self.clone());
        }
        self.try_apply(Op::Reshape { shape: shape.to_vec() }, &[])
    }

    /// Panicking form of [`Tensor::try_reshape`].
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        ok(self.try_reshape(shape))
    }

    /// Permutes axes: output axis i is input axis `perm[i]`.
    pub fn transpose(&self, perm: &[usize]) -> Tensor {
        if perm.iter().enumerate().all(|(i, &p)| i == p) && perm.len() == self.rank() {
            return self.clone();
        }
        self.apply(Op::Transpose { perm: perm.to_vec() }, &[])
    }

    /// Swaps the last two axes (matrix transpose of each batch entry).
    pub fn mt(&self) -> Tensor {
        let r = self.rank();
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.transpose(&perm)
    }

    /// Sub-block `lo..hi` per axis.
    pub fn slice(&self, lo: &[usize], hi: &[usize]) -> Tensor {
        self.apply(Op::Slice { lo: lo.to_vec(), hi: hi.to_vec() }, &[])
    }

    /// Columns `start..end` along `axis` (all of every other axis).
    pub fn narrow(&self, axis: usize, start: usize, end: usize) -> Tensor {
        let mut lo = vec![0; self.rank()];
        let mut hi = self.shape.to_vec();
        lo[axis] = start;
        hi[axis] = end;
        self.slice(&lo, &hi)
    }

    /// Zero padding `lo` before and `hi` after, per axis.
    pub fn pad(&self, lo: &[usize], hi: &[usize]) -> Tensor {
        self.apply(Op::Pad { lo: lo.to_vec(), hi: hi.to_vec() }, &[])
    }

    /// Joins `parts` along `axis`.
    pub fn concat(parts: &[Tensor], axis: usize) -> Tensor {
        ok(Self::try_concat(parts, axis))
    }

    /// Fallible form of [`Tensor::concat`].
    pub fn try_concat(parts: &[Tensor], axis: usize) -> Result<Tensor> {
        let first = parts.first().ok_or_else(|| GraphError::Shape {
            op: "concat",
            shapes: vec![],
            message: "no operands".into(),
        })?;
        if parts.len() == 1 {
            return Ok(first.clone());
        }
        let rest: Vec<&Tensor> = parts[1..].iter().collect();
        first.try_apply(Op::Concat { axis }, &rest)
    }

    /// The `dot` primitive: [..., m, k]·[..., k, n] with equal batch axes.
    pub fn dot(&self, other: &Tensor) -> Tensor {
        self.apply(Op::Dot, &[other])
    }

    /// NumPy `matmul`: 1-D operands are promoted to matrices (and the added axis removed
    /// again); batch axes broadcast.
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        let a =
            if self.rank() == 1 { self.try_reshape(&[1, self.shape[0]])? } else { self.clone() };
        let b = if other.rank() == 1 {
            other.try_reshape(&[other.shape[0], 1])?
        } else {
            other.clone()
        };
        if a.rank() < 2 || b.rank() < 2 {
            return Err(GraphError::Shape {
                op: "matmul",
                shapes: vec![self.shape.to_vec(), other.shape.to_vec()],
                message: "operands must have rank ≥ 1".into(),
            });
        }
        let (ra, rb) = (a.rank(), b.rank());
        let batch = broadcast_shapes(&a.shape[..ra - 2], &b.shape[..rb - 2]).ok_or_else(|| {
            GraphError::Shape {
                op: "matmul",
                shapes: vec![self.shape.to_vec(), other.shape.to_vec()],
                message: "batch axes are not broadcast-compatible".into(),
            }
        })?;
        let with = |t: &Tensor, r: usize| {
            let mut s = batch.clone();
            s.extend_from_slice(&t.shape[r - 2..]);
            t.try_broadcast_to(&s)
        };
        let y = with(&a, ra)?.try_apply(Op::Dot, &[&with(&b, rb)?])?;
        let mut shape = y.shape.to_vec();
        if other.rank() == 1 {
            shape.pop();
        }
        if self.rank() == 1 {
            shape.remove(shape.len() - if other.rank() == 1 { 1 } else { 2 });
        }
        y.try_reshape(&shape)
    }

    /// Panicking form of [`Tensor::try_matmul`].
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        ok(self.try_matmul(other))
    }

    /// Casts to `dtype` (no node when it already has it).
    pub fn convert(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype {
            return self.clone();
        }
        self.apply(Op::Convert { dtype }, &[])
    }

    /// The identity, with derivative zero at every order.
    pub fn stop_gradient(&self) -> Tensor {
        self.apply(Op::StopGradient, &[])
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:expr) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                ok(self.try_binary($op, rhs))
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                (&self).$method(&rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                (&self).$method(rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                self.$method(&rhs)
            }
        }
        impl $trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                self.$method(&self.full_like(rhs))
            }
        }
        impl $trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                (&self).$method(rhs)
            }
        }
        impl $trait<&Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                (&rhs.full_like(self)).$method(rhs)
            }
        }
        impl $trait<Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                self.$method(&rhs)
            }
        }
    };
}

binary_operator!(Add, add, BinaryOp::Add);
binary_operator!(Sub, sub, BinaryOp::Sub);
binary_operator!(Mul, mul, BinaryOp::Mul);
binary_operator!(Div, div, BinaryOp::Div);

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        -&self
    }
}
