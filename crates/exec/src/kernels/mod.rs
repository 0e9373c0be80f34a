//! Fast kernels, one file per family. Each works on contiguous row-major slices whose
//! shapes were resolved at compile time into a small plan; none allocates.
//!
//! - [`elementwise`]: unary, binary, compare, select; rayon above [`PAR_MIN_ELEMS`].
//! - [`matmul`]: `dot` through faer, sequential below a size threshold.
//! - [`layout`]: one strided-copy engine for broadcast, transpose, slice, pad and concat,
//!   plus a cache-blocked 2-D transpose.
//! - [`reduce`]: sum and max over `[outer, reduced, inner]` blocks, and a general strided
//!   accumulation for scattered axes.

pub(crate) mod elementwise;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod reduce;

/// Smallest elementwise kernel (in elements) split across threads when `threads > 1`.
/// Below it, rayon's fork/join overhead outweighs the work.
pub const PAR_MIN_ELEMS: usize = 1 << 15;
