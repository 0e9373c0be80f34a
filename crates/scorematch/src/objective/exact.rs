//! Exact score matching by the forward Laplacian, in chunks of input directions.
//!
//! Per sample, exact SM is tr ∇ₓs + ½‖s‖². Both terms are sums over the D basis
//! directions e_k of a row:
//!
//! - energy f (s = −∇ₓf): tr ∇ₓs = −Δf = −Σ_k e_kᵀ∇²f e_k and ‖s‖² = Σ_k (e_kᵀ∇f)², so a
//!   chunk K of directions contributes −L + ½ Σ_{k∈K} J_k² with J_k = e_kᵀ∇f and
//!   L = Σ_{k∈K} e_kᵀ∇²f e_k, which the forward Laplacian ([`scorematch_graph::laplacian`])
//!   gives in one forward sweep — c tangents and one Laplacian per node, no reverse pass;
//! - score network s: tr ∇ₓs = Σ_k e_kᵀ(∂s·e_k) and ‖s‖² = Σ_k (e_kᵀs)², so a chunk
//!   contributes Σ_{k∈K} e_kᵀJ_k + ½(e_kᵀs)² with the forward tangents J_k = ∂s·e_k (the
//!   Laplacian is unused and never compiled).
//!
//! The loss is therefore additive over chunks: exact SM = Σ over ⌈D/c⌉ chunks of the
//! chunk's loss, each chunk's directions fed as an input of one compiled program (the last
//! chunk zero-padded: a zero direction adds 0), so the program's memory is bounded by the
//! chunk, c·B tangent rows per layer, instead of growing as D·B. The chunk loop is
//! `CompiledLoss`'s (`train/compiled.rs`); without a directions input (the reference
//! interpreter's fixtures) one chunk holds all D directions.
//!
//! Why not D Hessian-vector products: forward-over-reverse HVPs on D replicated copies of
//! the batch cost a forward pass, a reverse pass and the tangents of both per direction,
//! and the primal work is repeated D times; the forward Laplacian shares the primal pass
//! and needs only the forward tangents (Li et al. 2023; the JAX anchor measured it ≈ 3×
//! faster). `scorematch bench --objective esm` compares them side by side.

use scorematch_graph::{Tensor, laplacian};

use super::FieldFn;
use crate::error::Result;
use crate::model::Field;

/// The directions input of a chunked exact-SM loss: rows of the D×D identity, c at a time.
#[derive(Debug, Clone)]
pub struct Directions {
    /// The input node, shape (c, D): row k is direction k of the chunk.
    pub tensor: Tensor,
}

impl Directions {
    /// How the D directions are chunked, free of the graph (kept with a compiled program).
    pub fn chunks(&self) -> DirectionChunks {
        DirectionChunks { chunk: self.tensor.shape()[0], dim: self.tensor.shape()[1] }
    }
}

/// The D input directions of exact SM, c per chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionChunks {
    /// Directions per chunk, c.
    pub chunk: usize,
    /// Data dimension D.
    pub dim: usize,
}

impl DirectionChunks {
    /// Number of chunks, ⌈D/c⌉.
    pub fn parts(&self) -> usize {
        self.dim.div_ceil(self.chunk)
    }

    /// Fills `out` (c × D, row-major) with chunk `part`'s directions: basis vectors
    /// e_{part·c} … e_{part·c + c − 1}, rows past D left zero.
    pub fn fill<T: scorematch_graph::Element>(&self, part: usize, out: &mut [T]) {
        let (c, d) = (self.chunk, self.dim);
        out.fill(T::zero());
        for k in 0..c {
            let j = part * c + k;
            if j < d {
                out[k * d + j] = T::one();
            }
        }
    }
}

/// The exact-SM loss of the chunk of directions `e` (c, D), mean over the batch `x`
/// (B, D): see the module docs.
pub(crate) fn chunk_loss(field: &FieldFn, x: &Tensor, e: &Tensor) -> Result<Tensor> {
    let (b, d) = (x.shape()[0], x.shape()[1]);
    let c = e.shape()[0];
    let dirs = e.reshape(&[c, 1, d]).broadcast_to(&[c, b, d]);
    let per_row = match field(x, None)? {
        Field::Energy(f) => {
            let jet = laplacian(&[f], std::slice::from_ref(x), &[dirs])?.remove(0);
            -jet.laplacian + 0.5 * jet.tangents.square().sum(&[0])
        }
        Field::Score(s) => {
            let jet =
                laplacian(std::slice::from_ref(&s), std::slice::from_ref(x), &[dirs.clone()])?
                    .remove(0);
            let divergence = (jet.tangents * &dirs).sum(&[0, 2]);
            divergence + 0.5 * (&dirs * s).sum(&[2]).square().sum(&[0])
        }
    };
    Ok(per_row.mean_all())
}
