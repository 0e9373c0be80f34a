//! One loss computed as several parts, each by a compiled program of its own, and summed.
//!
//! A loss that is a sum over independent pieces — the rows of a batch, or chunks of the
//! input directions of exact score matching's trace — can be compiled once per piece and
//! the pieces run side by side, one per thread: at the sizes of small networks
//! (products of 256 × 128) per-kernel threading cannot pay, but two whole programs on two
//! cores can. [`run_and_sum`] is the one routine that runs the parts and adds their loss
//! and gradients; what a part is (a slice of the batch) is the caller's, behind
//! [`LossPart`]. Exact SM's chunks of input directions are parts too, but of one program
//! run again and again, so they are added up as they run, with the same [`add_scaled`].
//!
//! Determinism: the parts are summed in their order, whatever order they finished in, so a
//! given split gives the same bits on every run; it differs from the unsplit program only
//! by the order of its floating-point sums.

use rayon::ThreadPool;
use rayon::prelude::*;
use scorematch_exec::ProgramStats;
use scorematch_graph::Element;

use crate::error::Result;
use crate::optim::{self, PIECE};

/// A piece of a loss computed on its own, with its loss and its gradient in each
/// parameter; the whole loss is Σₚ wₚ·lossₚ and its gradient Σₚ wₚ·∇lossₚ.
pub(crate) trait LossPart<T: Element>: Send + Sync {
    /// The part's loss, after a run.
    fn loss(&self) -> f64;
    /// The part's gradient in parameter `i`, after a run.
    fn grad(&self, i: usize) -> &[T];
    /// The weight wₚ of this part in the sum (for a slice of b of B rows whose loss is a
    /// mean over its rows, b / B).
    fn weight(&self) -> f64;
}

/// Runs `run` on every part — on `pool`'s threads side by side (each part on one thread)
/// when there is a pool, else one after the other on the calling thread — then returns
/// the weighted sum of the parts' losses and writes the weighted sum of their gradients
/// into `grads` (one buffer per parameter; none when the parts compute no gradient),
/// adding the parts in their order so that the result does not depend on which finished
/// first. The first error of a part is returned. The sum runs in pieces on the pool
/// only when a gradient makes two pieces or more ([`optim::pool_worth`]): handing small
/// sums to a sleeping pool thread costs more than adding them here.
pub(crate) fn run_and_sum<T, P, F>(
    parts: &mut [P],
    pool: Option<&ThreadPool>,
    run: F,
    grads: &mut [Vec<T>],
) -> Result<f64>
where
    T: Element,
    P: LossPart<T>,
    F: Fn(&mut P) -> Result<()> + Sync,
{
    match pool {
        Some(pool) => pool.install(|| parts.par_iter_mut().try_for_each(&run))?,
        None => parts.iter_mut().try_for_each(&run)?,
    }
    let loss = parts.iter().map(|p| p.weight() * p.loss()).sum();
    let pool = optim::pool_worth(pool, grads);
    // Each piece of a gradient adds the parts in their order: pieces side by side on the
    // pool give the same bits as one pass.
    let sum_piece = |i: usize, at: usize, sum: &mut [T]| {
        for (k, part) in parts.iter().enumerate() {
            let w = T::from_f64(part.weight());
            add_scaled(sum, &part.grad(i)[at..at + sum.len()], w, k == 0);
        }
    };
    match pool {
        Some(pool) => pool.install(|| {
            grads.par_iter_mut().enumerate().for_each(|(i, sum)| {
                sum.par_chunks_mut(PIECE)
                    .enumerate()
                    .for_each(|(c, piece)| sum_piece(i, c * PIECE, piece));
            });
        }),
        None => grads.iter_mut().enumerate().for_each(|(i, sum)| sum_piece(i, 0, sum)),
    }
    Ok(loss)
}

/// Which bytes of a compiled program to count: its buffers
/// ([`ProgramStats::bytes`]) or the most its values hold at once
/// ([`ProgramStats::live_peak_bytes`]).
pub(crate) type ProgramBytes = fn(&ProgramStats) -> usize;

/// `sum = w·g` for the first part, `sum += w·g` for the next ones.
pub(crate) fn add_scaled<T: Element>(sum: &mut [T], g: &[T], w: T, first: bool) {
    if first {
        sum.iter_mut().zip(g).for_each(|(s, &g)| *s = w * g);
    } else {
        sum.iter_mut().zip(g).for_each(|(s, &g)| *s = *s + w * g);
    }
}

/// A feed, seen for as long as a shorter borrow (to chain it with one).
pub(crate) fn shorten<'b, 'a: 'b, T>(feed: &'a [T]) -> &'b [T] {
    feed
}
