//! Composite functions, written in primitives in numerically stable form. Their
//! derivatives come from the primitives' rules, so they compose to any order; each is
//! checked in the op table against finite differences like a primitive. (softplus and
//! sigmoid were composites here; they are primitives now, for their fused kernels, and
//! their old composites live on in the op table as their oracles.)

use crate::graph::Tensor;

impl Tensor {
    /// x², elementwise.
    pub fn square(&self) -> Tensor {
        self * self
    }

    /// swish / SiLU: x·σ(x).
    pub fn swish(&self) -> Tensor {
        self * self.sigmoid()
    }

    /// Alias of [`Tensor::swish`], PyTorch's name.
    pub fn silu(&self) -> Tensor {
        self.swish()
    }

    /// ELU with α = 1: x for x > 0, eˣ − 1 otherwise (e^min(x,0) keeps the unselected
    /// branch finite). C¹ at 0; its second derivative jumps there.
    pub fn elu(&self) -> Tensor {
        let zero = self.zeros_like();
        let neg = self.minimum(&zero).exp() - 1.0;
        self.gt(&zero).select(self, &neg)
    }

    /// log Σ exp over `axes` (removed), stable: m + log Σ exp(x − m) with m the max held
    /// constant by `stop_gradient` — the m terms cancel, so the derivative (softmax) is
    /// exact and no derivative flows through the max's kinks.
    pub fn logsumexp(&self, axes: &[isize]) -> Tensor {
        let m = self.max(axes).stop_gradient();
        let mut keep_shape = self.shape().to_vec();
        for &a in axes {
            let a = crate::shape::normalize_axis(a, self.rank()).unwrap_or(0);
            keep_shape[a] = 1;
        }
        let mb = m.reshape(&keep_shape).broadcast_to(self.shape());
        m + (self - mb).exp().sum(axes).log()
    }

    /// Σ x² over `axes` (removed).
    pub fn sum_squares(&self, axes: &[isize]) -> Tensor {
        self.square().sum(axes)
    }

    /// Euclidean norm √(Σ x²) over `axes` (removed). Not differentiable at 0.
    pub fn norm_l2(&self, axes: &[isize]) -> Tensor {
        self.sum_squares(axes).sqrt()
    }

    /// L1 norm Σ |x| over `axes` (removed).
    pub fn norm_l1(&self, axes: &[isize]) -> Tensor {
        self.abs().sum(axes)
    }
}
