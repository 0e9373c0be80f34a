//! Communication between the processes of a data-parallel run.
//!
//! A [`Communicator`] is what the training loop needs from a group of processes ("ranks")
//! that each hold a part of every global batch: who am I ([`Communicator::rank`]), how many
//! are we ([`Communicator::size`]), a sum over all ranks in a **fixed order**
//! ([`Communicator::sum_f64`]) and a broadcast ([`Communicator::broadcast_bytes`]); and,
//! built on them, the agreement on failures: [`agree`] (did any rank fail? then every rank
//! fails with that rank's message) and [`failures`], its second half for flags that
//! travelled in a sum made anyway.
//!
//! [`SingleProcess`] is the group of one: its sum and broadcast do nothing, so the
//! single-process run goes through the very code a distributed run does (one training loop,
//! [`crate::train::Trainer`]), and a run with one rank is bit for bit the plain run.
//! With the `mpi` feature, `Mpi` is the group of an `mpirun` job (rsmpi over Open MPI or
//! MPICH).
//!
//! Why a fixed order: `MPI_Allreduce` may sum in any order (by message arrival, by the
//! library's tree), so the same job could give different bits from run to run. Here the sum
//! gathers every rank's buffer to rank 0, adds them in rank order `((x₀ + x₁) + x₂) + …`,
//! and broadcasts the result; a run then never depends on timing, and `N` ranks give the same
//! bits on every run. The cost is a gather and a broadcast instead of a ring all-reduce
//! (about `N − 1 + ⌈log₂N⌉` buffers through rank 0 rather than `2·(N−1)/N` per rank), which
//! `docs/distributed.md` weighs against a step's compute.
//!
//! Why agreements: a collective call blocks until every rank enters it, so a rank that
//! returned early (an error, a signal) would leave the others waiting for ever. Every exit
//! from the training loop is therefore decided together: each step sums, with the
//! gradients, a stop flag (an interrupt on any rank) and one failure flag per rank, so a
//! step costs one collective and every rank leaves after the same step
//! ([`crate::train::Trainer::step`]); a front agrees with [`agree`] on what it does
//! outside the steps (loading the data, creating the run folder). A rank that dies
//! outright (killed, out of memory) is the MPI launcher's to handle: `mpirun` ends the job
//! when one process exits abnormally.

#[cfg(feature = "mpi")]
mod mpi;

#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;

use crate::error::{Error, Result};

/// A group of processes that train one model together; see the module docs. Every method
/// but [`Communicator::rank`] and [`Communicator::size`] is collective: every rank must call
/// it, in the same order, with buffers of the same length.
pub trait Communicator {
    /// This process's index, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn size(&self) -> usize;

    /// Replaces `values` on every rank by their elementwise sum over the ranks, added in
    /// rank order (so the result is the same bits on every run and on every rank).
    fn sum_f64(&self, values: &mut [f64]);

    /// Replaces `bytes` on every rank by rank `root`'s.
    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>);
}

/// `local` where every rank succeeded; otherwise, on every rank, an error naming the
/// lowest failing rank and its cause ([`Error::Rank`]). A single process gets its own
/// error back unchanged. Collective: every rank calls it at the same point.
pub fn agree<T>(comm: &(impl Communicator + ?Sized), local: Result<T>) -> Result<T> {
    let mut failed = vec![0.0; comm.size()];
    if local.is_err() {
        failed[comm.rank()] = 1.0;
    }
    comm.sum_f64(&mut failed);
    failures(comm, &failed, local)
}

/// The end of an agreement whose flags travelled in a sum the caller made anyway (the
/// trainer sends them with the gradients, saving a collective per step): `failed` holds one
/// slot per rank, summed over the ranks, non-zero where that rank's `local` is an error.
/// `local` when no rank failed (or on a single process); otherwise every rank gets
/// [`Error::Rank`] with the lowest failing rank's message, which it broadcasts.
pub fn failures<T>(
    comm: &(impl Communicator + ?Sized),
    failed: &[f64],
    local: Result<T>,
) -> Result<T> {
    if comm.size() == 1 {
        return local;
    }
    let Some(first) = failed.iter().position(|&f| f > 0.0) else { return local };
    let mut message = match &local {
        Err(e) if comm.rank() == first => e.to_string().into_bytes(),
        _ => Vec::new(),
    };
    comm.broadcast_bytes(first, &mut message);
    Err(Error::Rank { rank: first, message: String::from_utf8_lossy(&message).into_owned() })
}

/// The group of one process: nothing to exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f64(&self, _values: &mut [f64]) {}
    fn broadcast_bytes(&self, _root: usize, _bytes: &mut Vec<u8>) {}
}

/// The communicator of a run: the MPI job's ranks when `distributed` (the configuration's
/// `distributed`), else [`SingleProcess`]. Errors when `distributed` is asked of a build
/// without the `mpi` feature.
pub fn for_run(distributed: bool) -> Result<Box<dyn Communicator>> {
    if !distributed {
        return Ok(Box::new(SingleProcess));
    }
    #[cfg(feature = "mpi")]
    return Ok(Box::new(Mpi::init()?));
    #[cfg(not(feature = "mpi"))]
    Err(crate::error::ConfigError::new(
        "distributed",
        true,
        "needs a build with MPI: install Open MPI or MPICH and libclang, then build with the \
         `mpi` feature (cargo install --path crates/cli --features mpi) and start the run \
         with mpirun",
    )
    .into())
}

/// The part `[start, end)` of `n` items that rank `rank` of `size` holds: contiguous parts
/// in rank order whose lengths differ by at most one (the first `n mod size` ranks hold one
/// more).
pub fn part(n: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let size = size.max(1);
    let (q, r) = (n / size, n % size);
    let start = rank * q + rank.min(r);
    start..start + q + usize::from(rank < r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_in_order_and_differ_by_at_most_one() {
        for n in [0, 1, 5, 7, 256] {
            for size in 1..6 {
                let parts: Vec<_> = (0..size).map(|k| part(n, k, size)).collect();
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts[size - 1].end, n);
                assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
                let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
                let (lo, hi) = (lens.iter().min().unwrap_or(&0), lens.iter().max().unwrap_or(&0));
                assert!(hi - lo <= 1, "{n} over {size}: {lens:?}");
            }
        }
    }

    #[test]
    fn a_single_process_keeps_its_values_and_its_errors() {
        let comm = SingleProcess;
        let mut v = [1.5, -2.0];
        comm.sum_f64(&mut v);
        assert_eq!(v, [1.5, -2.0]);
        let err = agree::<()>(&comm, Err(Error::NonFinite("x".into()))).unwrap_err();
        assert!(matches!(err, Error::NonFinite(_)), "{err}");
    }
}
