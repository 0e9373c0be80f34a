//! Gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_` (2-norm).

use num_traits::Float;

use crate::{Error, Result};

/// The global 2-norm `‖g‖ = √(Σᵢ Σⱼ gᵢⱼ²)` over all gradient tensors, accumulated in `f64`.
pub fn grad_norm<T: Float>(grads: &[Vec<T>]) -> f64 {
    grads
        .iter()
        .flatten()
        .map(|g| {
            let v = g.to_f64().unwrap_or(f64::NAN);
            v * v
        })
        .sum::<f64>()
        .sqrt()
}

/// Rescales the gradients in place so that their global 2-norm is at most `max_norm`, and
/// returns the norm *before* clipping.
///
/// PyTorch semantics: with `c = max_norm / (‖g‖ + 1e-6)`, every gradient is multiplied by
/// `min(c, 1)`. The norm after clipping is therefore `max_norm · ‖g‖ / (‖g‖ + 10⁻⁶)`, i.e.
/// `max_norm` to within a relative `10⁻⁶ / ‖g‖`. Gradients already within the bound are left
/// bit-for-bit unchanged.
///
/// When the norm is not finite (a NaN or infinite gradient) the gradients are left untouched
/// and the non-finite norm is returned, so the caller can stop with a clear message (PyTorch
/// would silently turn every gradient into NaN). `max_norm` must be finite and `> 0`.
pub fn clip_grad_norm<T: Float>(grads: &mut [Vec<T>], max_norm: f64) -> Result<f64> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "gradient clipping max_norm must be finite and > 0, got {max_norm}"
        )));
    }
    let total = grad_norm(grads);
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = T::from(coef).unwrap_or_else(T::one);
        grads.iter_mut().flatten().for_each(|g| *g = *g * c);
    }
    Ok(total)
}
