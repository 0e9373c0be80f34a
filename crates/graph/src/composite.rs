//! Composite functions, written in primitives in numerically stable form. Their
//! derivatives come from the primitives' rules, so they compose to any order; each is
//! checked in the op table against finite differences like a primitive.

use crate::graph::Tensor;

/// PyTorch's softplus threshold: above it, softplus(x) = x to within f64 rounding.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

impl Tensor {
    /// x², elementwise.
    pub fn square(&self) -> Tensor {
        self * self
    }

    /// softplus(x) = ln(1 + eˣ); softplus' = σ(x).
    ///
    /// Stable form (as `torch.nn.Softplus`): x when x > 20, else ln(1 + e^min(x, 20)). The
    /// `min` keeps the unselected branch finite so no 0·∞ reaches a derivative, and unlike
    /// max(x, 0) + ln(1 + e^−|x|) it has no kink at 0, so every derivative is exact there.
    pub fn softplus(&self) -> Tensor {
        let t = self.full_like(SOFTPLUS_THRESHOLD);
        let safe = self.minimum(&t);
        self.gt(&t).select(self, &safe.exp().log1p())
    }

    /// σ(x) = 1/(1 + e⁻ˣ), written as ½ + ½·tanh(x/2): bounded, no overflow for any x and
    /// smooth at every order (σ' = σ(1 − σ)).
    pub fn sigmoid(&self) -> Tensor {
        0.5 + 0.5 * (self * 0.5).tanh()
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
