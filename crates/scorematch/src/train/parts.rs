//! One loss computed as several parts, each by a compiled program of its own, and summed.
//!
//! A loss that is a sum over independent pieces — the rows of a batch, or chunks of the
//! input directions of exact score matching's trace — can be compiled once per piece and
//! the pieces run side by side, one per thread: at the sizes of small networks
//! (products of 256 × 128) per-kernel threading cannot pay, but two whole programs on two
//! cores can. [`run_and_sum`] is the one routine that runs the parts and adds their loss
//! and gradients; what a part is (a slice of the batch here, a chunk of directions for
//! exact SM) is the caller's, behind [`LossPart`].
//!
//! Determinism: the parts are summed in their order, whatever order they finished in, so a
//! given split gives the same bits on every run; it differs from the unsplit program only
//! by the order of its floating-point sums.

use rayon::ThreadPool;
use rayon::prelude::*;
use scorematch_exec::Program;
use scorematch_graph::Element;

use crate::error::Result;

/// A piece of a loss computed by a program of its own: output 0 is its (scalar) loss,
/// outputs 1.. its gradient in each parameter; the whole loss is Σₚ wₚ·lossₚ and its
/// gradient Σₚ wₚ·∇lossₚ.
pub(crate) trait LossPart<T: Element>: Send {
    /// The part's program, after a run.
    fn program(&self) -> &Program<T>;
    /// The weight wₚ of this part in the sum (for a slice of b of B rows whose loss is a
    /// mean over its rows, b / B).
    fn weight(&self) -> f64;
}

/// Runs `run` on every part — on `pool`'s threads side by side (each part on one thread)
/// when there is a pool, else one after the other on the calling thread — then returns
/// the weighted sum of the parts' losses and writes the weighted sum of their gradients
/// into `grads` (one buffer per parameter; none when the parts compute no gradient),
/// adding the parts in their order so that the result does not depend on which finished
/// first. The first error of a part is returned.
///
/// Generic over what a part is: slices of the batch ([`super::CompiledLoss`]) and chunks of
/// exact SM's input directions both go through here.
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
    let mut loss = 0.0;
    for (k, part) in parts.iter().enumerate() {
        let (w, program) = (part.weight(), part.program());
        loss += w * Element::to_f64(program.output(0)[0]);
        let w = <T as Element>::from_f64(w);
        for (i, sum) in grads.iter_mut().enumerate() {
            let g = program.output(1 + i);
            if k == 0 {
                sum.iter_mut().zip(g).for_each(|(s, &g)| *s = w * g);
            } else {
                sum.iter_mut().zip(g).for_each(|(s, &g)| *s = *s + w * g);
            }
        }
    }
    Ok(loss)
}
