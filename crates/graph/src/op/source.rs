//! Sources and casts: input, constant (a fill), literal (a tensor of values), convert,
//! stop_gradient.
//!
//! Sources have no operands and no derivative rules: an input's tangent or cotangent is
//! what the transform's caller supplies, and constants have none. `convert` casts the
//! element type; it is linear (ẏ = convert(ẋ), x̄ = convert(ȳ) back). `stop_gradient` is
//! the identity whose derivative is defined to be zero, in both modes and at every order.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::dtype::Element;

/// The values of a literal tensor, stored as `f64` (exact for `f32` literals too), hashed
/// and compared bit for bit so that hash-consing merges identical literals only.
#[derive(Debug, Clone)]
pub struct LiteralData(pub Arc<[f64]>);

impl PartialEq for LiteralData {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(other.0.iter()).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for LiteralData {}

impl Hash for LiteralData {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.len().hash(state);
        self.0.iter().for_each(|v| v.to_bits().hash(state));
    }
}

/// Reference kernel of constant: fill with `value`.
pub(crate) fn constant_kernel<T: Element>(value: f64, out: &mut [T]) {
    out.fill(T::from_f64(value));
}

/// Reference kernel of literal: copy the values.
pub(crate) fn literal_kernel<T: Element>(data: &LiteralData, out: &mut [T]) {
    out.iter_mut().zip(data.0.iter()).for_each(|(o, &v)| *o = T::from_f64(v));
}
