//! [`Mpi`]: the ranks of an `mpirun` job, over rsmpi (the `mpi` crate).

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, Root};

use super::Communicator;
use crate::error::{Error, Result};

/// The ranks of an `mpirun` job (`MPI_COMM_WORLD`). MPI is initialised by [`Mpi::init`] and
/// finalised when this value is dropped, so hold it for the whole run. MPI errors abort the
/// job (MPI's default handler), which is why the collectives return no error.
pub struct Mpi {
    world: SimpleCommunicator,
    // Dropped after `world`: finalises MPI.
    _universe: Universe,
}

impl Mpi {
    /// Initialises MPI. Errors when it was already initialised in this process.
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| {
            Error::InvalidArgument("MPI was already initialised in this process".into())
        })?;
        Ok(Self { world: universe.world(), _universe: universe })
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        usize::try_from(self.world.rank()).unwrap_or(0)
    }

    fn size(&self) -> usize {
        usize::try_from(self.world.size()).unwrap_or(1)
    }

    /// Gathers every rank's `values` to rank 0, adds them there in rank order, and
    /// broadcasts the sum (see the module docs of [`super`] for why not `MPI_Allreduce`).
    fn sum_f64(&self, values: &mut [f64]) {
        let root = self.world.process_at_rank(0);
        if self.rank() == 0 {
            let mut all = vec![0.0; values.len() * self.size()];
            root.gather_into_root(&*values, &mut all[..]);
            for other in all.chunks_exact(values.len().max(1)).skip(1) {
                values.iter_mut().zip(other).for_each(|(v, o)| *v += o);
            }
        } else {
            root.gather_into(&*values);
        }
        root.broadcast_into(values);
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) {
        let root = self.world.process_at_rank(i32::try_from(root).unwrap_or(0));
        let mut len = [bytes.len() as u64];
        root.broadcast_into(&mut len[..]);
        bytes.resize(usize::try_from(len[0]).unwrap_or(0), 0);
        root.broadcast_into(&mut bytes[..]);
    }
}
