//! Fast kernels, one file per family. Each works on contiguous row-major slices whose
//! shapes were resolved at compile time into a small plan; none allocates.
//!
//! - [`fused`]: every elementwise node, alone or fused with others into one pass over the
//!   elements (a register program over chunks); rayon above [`PAR_MIN_ELEMS`] element-ops.
//!   Each op runs its fast kernel where [`fastmath`] registers one (vectorisable `f32`
//!   exp, ln, log1p), and the graph crate's reference kernel otherwise.
//! - [`matmul`]: `dot` through faer, sequential below a size threshold.
//! - [`layout`]: one strided-copy engine for broadcast, transpose, slice, pad and concat,
//!   plus a cache-blocked 2-D transpose.
//! - [`reduce`]: sum and max over `[outer, reduced, inner]` blocks, and a general strided
//!   accumulation for scattered axes.

use std::any::TypeId;

pub(crate) mod fastmath;
pub(crate) mod fused;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod reduce;

/// Smallest elementwise work (elements × fused ops) split across threads when
/// `threads > 1`. Below it, rayon's fork/join overhead outweighs the work.
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// Reinterprets a slice as another element type when the two types are the same.
#[inline(always)]
pub(crate) fn same<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type, so the pointer cast keeps length and layout.
        .then(|| unsafe { &*(s as *const [T] as *const [U]) })
}

/// Mutable form of [`same`].
#[inline(always)]
pub(crate) fn same_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type, so the pointer cast keeps length and layout.
        .then(|| unsafe { &mut *(s as *mut [T] as *mut [U]) })
}
