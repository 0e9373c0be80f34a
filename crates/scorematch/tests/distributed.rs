//! Data-parallel training through the [`Communicator`] trait, without MPI: ranks are
//! threads of this process joined by an in-memory communicator that sums in rank order, as
//! `comm::Mpi` does. So the default build tests what a distributed run computes (the split
//! of every batch, the keyed draws, the weighted sum, the shared validation, the agreed
//! stops and failures); `crates/cli/tests/distributed.rs` runs the same under `mpirun`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::sync::{Barrier, Mutex};

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::Error;
use scorematch::comm::{Communicator, SingleProcess};
use scorematch::config::RunConfig;
use scorematch::data::{Dataset, Rows, ToyDensity, save_npy};
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::train::{StopReason, TrainConfig, Trainer};

/// The meeting point of `size` thread ranks: each collective posts every rank's buffer,
/// then every rank reads them all.
struct Room {
    size: usize,
    barrier: Barrier,
    posted: Mutex<Vec<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

impl Room {
    fn new(size: usize) -> Self {
        Self {
            size,
            barrier: Barrier::new(size),
            posted: Mutex::new(vec![Vec::new(); size]),
            bytes: Mutex::new(Vec::new()),
        }
    }
}

/// Rank `rank` of a [`Room`].
struct ThreadRank<'a> {
    room: &'a Room,
    rank: usize,
}

impl Communicator for ThreadRank<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.room.size
    }
    fn sum_f64(&self, values: &mut [f64]) {
        self.room.posted.lock().unwrap()[self.rank] = values.to_vec();
        self.room.barrier.wait();
        {
            let posted = self.room.posted.lock().unwrap();
            values.copy_from_slice(&posted[0]);
            for other in &posted[1..] {
                values.iter_mut().zip(other).for_each(|(v, o)| *v += o);
            }
        }
        self.room.barrier.wait();
    }
    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) {
        if self.rank == root {
            *self.room.bytes.lock().unwrap() = bytes.clone();
        }
        self.room.barrier.wait();
        bytes.clone_from(&self.room.bytes.lock().unwrap());
        self.room.barrier.wait();
    }
}

fn model() -> ModelConfig {
    ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![16, 16],
        activation: Activation::Swish,
        base_sigma: Some(3.0),
    })
}

fn objective() -> Objective {
    Objective::Ssm { projection: Projection::Rademacher, n_projections: 2 }
}

fn init() -> Vec<Vec<f64>> {
    model().init_params(&mut StdRng::seed_from_u64(5))
}

/// Trains on `comm` to the end; the parameters, the per-step losses and the stop reason.
fn train_on(
    comm: &dyn Communicator,
    data: &dyn Rows,
    val: Option<&dyn Rows>,
    config: &TrainConfig,
) -> (Vec<f64>, Vec<f64>, Option<StopReason>) {
    let model = model();
    let mut t =
        Trainer::<f64>::new_in(comm, model.model(), &objective(), data, val, config, init())
            .unwrap();
    let mut losses = Vec::new();
    while let Some(m) = t.step().unwrap() {
        losses.push(m.loss);
        losses.extend(m.val_loss);
    }
    (t.params().concat(), losses, t.stop_reason().cloned())
}

/// Runs `work` on `size` thread ranks; their results in rank order.
fn on_ranks<R: Send>(size: usize, work: impl Fn(&dyn Communicator) -> R + Sync) -> Vec<R> {
    let room = Room::new(size);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let (room, work) = (&room, &work);
                s.spawn(move || work(&ThreadRank { room, rank }))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn max_relative_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-3)).fold(0.0, f64::max)
}

#[test]
fn ranks_share_every_batch_and_match_one_process_up_to_summation_order() {
    let data = ToyDensity::TwoMoons.sample_seeded(640, 1);
    let val = ToyDensity::TwoMoons.sample_seeded(150, 2);
    let config = TrainConfig {
        steps: 200,
        batch_size: 64,
        eval_every: 50,
        seed: 7,
        ..TrainConfig::default()
    };
    let (one, one_losses, _) = train_on(&SingleProcess, &data, Some(&val), &config);
    // One thread rank is the single process, bit for bit.
    let solo = on_ranks(1, |c| train_on(c, &data, Some(&val), &config));
    assert_eq!(solo[0].0, one);
    assert_eq!(solo[0].1, one_losses);
    for size in [2, 3] {
        let runs = on_ranks(size, |c| train_on(c, &data, Some(&val), &config));
        // Every rank holds the same parameters and saw the same losses.
        assert!(runs.iter().all(|r| r.0 == runs[0].0 && r.1 == runs[0].1), "{size} ranks");
        let gap = max_relative_gap(&runs[0].0, &one);
        assert!(gap < 1e-9, "{size} ranks vs one process: parameters differ by {gap:e}");
        assert!(max_relative_gap(&runs[0].1, &one_losses) < 1e-9, "{size} ranks: losses");
        // The same ranks again: the same bits.
        let again = on_ranks(size, |c| train_on(c, &data, Some(&val), &config));
        assert_eq!(again[0].0, runs[0].0, "{size} ranks: two runs differ");
    }
    // A different seed must change the result (the comparison above can fail).
    let other = TrainConfig { seed: 8, ..config };
    assert!(max_relative_gap(&train_on(&SingleProcess, &data, None, &other).0, &one) > 1e-3);
}

#[test]
fn ranks_reading_their_rows_from_a_npy_file_match_the_rows_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moons.npy");
    let data = ToyDensity::TwoMoons.sample_seeded(500, 3);
    save_npy(&path, &data).unwrap();
    let mut run = RunConfig::default();
    run.data.source = path.to_str().unwrap().into();
    run.data.val_fraction = 0.2;
    run.seed = 11;
    let config = TrainConfig {
        steps: 120,
        batch_size: 50,
        eval_every: 40,
        seed: 11,
        ..TrainConfig::default()
    };
    let memory = run.prepare_rows(&data).unwrap();
    let all = |rows: &dyn Rows| rows.head(usize::MAX).unwrap();
    let trained = |comm: &dyn Communicator, rows: &scorematch::config::RunRows| {
        train_on(comm, rows.train.as_ref(), rows.validation.as_deref(), &config)
    };
    let reference = trained(&SingleProcess, &memory);
    // One process reading the file: the same rows, the same map, the same run, bit for bit.
    let file = run.prepare_file_rows(&SingleProcess).unwrap();
    assert_eq!(file.standardizer, memory.standardizer);
    assert_eq!(all(file.train.as_ref()), all(memory.train.as_ref()));
    assert_eq!(all(file.validation_raw.as_ref()), all(memory.validation_raw.as_ref()));
    assert_eq!(trained(&SingleProcess, &file), reference);
    // Two and three ranks: the standardisation from reduced sums, then the run, equal up to
    // summation order; every rank agrees.
    for size in [2, 3] {
        let runs = on_ranks(size, |comm| {
            let rows = run.prepare_file_rows(comm).unwrap();
            (rows.standardizer.clone().unwrap(), trained(comm, &rows))
        });
        let st = memory.standardizer.as_ref().unwrap();
        let map_gap = max_relative_gap(
            &[&runs[0].0.mean[..], &runs[0].0.std[..]].concat(),
            &[&st.mean[..], &st.std[..]].concat(),
        );
        assert!(map_gap < 1e-14, "{size} ranks: standardisation differs by {map_gap:e}");
        assert!(runs.iter().all(|r| r.1 == runs[0].1), "{size} ranks disagree");
        let gap = max_relative_gap(&runs[0].1.0, &reference.0);
        assert!(gap < 1e-9, "{size} ranks from the file vs in memory: {gap:e}");
    }
}

#[test]
fn a_rank_that_cannot_read_the_file_stops_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = RunConfig::default();
    run.data.source = dir.path().join("missing.npy").to_str().unwrap().into();
    let errors = on_ranks(2, |comm| run.prepare_file_rows(comm).err().map(|e| e.to_string()));
    for e in errors {
        let e = e.expect("an error");
        assert!(e.starts_with("rank 0 failed: ") && e.contains("missing.npy"), "{e}");
    }
}

#[test]
fn an_interrupt_on_one_rank_stops_every_rank_after_the_same_step() {
    let data = ToyDensity::TwoMoons.sample_seeded(256, 1);
    let config = TrainConfig { steps: 50, batch_size: 32, ..TrainConfig::default() };
    let model = model();
    let steps = on_ranks(2, |comm| {
        let mut t =
            Trainer::<f64>::new_in(comm, model.model(), &objective(), &data, None, &config, init())
                .unwrap();
        while let Some(m) = t.step().unwrap() {
            if comm.rank() == 1 && m.step == 10 {
                t.interrupt();
            }
        }
        (t.steps_done(), t.stop_reason().cloned())
    });
    assert_eq!(steps, vec![(10, Some(StopReason::Interrupted)); 2]);
}

#[test]
fn a_failing_rank_stops_every_rank_with_its_rank_and_cause() {
    let data = ToyDensity::TwoMoons.sample_seeded(256, 1);
    // Rank 1's rows have the wrong width: its evaluation fails, rank 0's does not.
    let wide = Dataset::from_flat(256, 3, vec![0.5; 768]).unwrap();
    let config = TrainConfig { steps: 5, batch_size: 32, ..TrainConfig::default() };
    let model = model();
    let errors = on_ranks(2, |comm| {
        let rows = if comm.rank() == 1 { &wide } else { &data };
        let trainer =
            Trainer::<f64>::new_in(comm, model.model(), &objective(), rows, None, &config, init());
        // The width is checked when the trainer is built: agree on that, as the CLI does.
        let trainer = scorematch::comm::agree(comm, trainer.map(|_| ()));
        trainer.unwrap_err()
    });
    for e in &errors {
        assert!(matches!(e, Error::Rank { rank: 1, .. }), "{e}");
        assert!(e.to_string().starts_with("rank 1 failed: shape mismatch: data has 3 columns"));
    }
}

#[test]
fn a_batch_smaller_than_the_ranks_is_refused() {
    let data = ToyDensity::TwoMoons.sample_seeded(64, 1);
    let config = TrainConfig { steps: 5, batch_size: 2, ..TrainConfig::default() };
    let model = model();
    let errors = on_ranks(3, |comm| {
        Trainer::<f64>::new_in(comm, model.model(), &objective(), &data, None, &config, init())
            .err()
            .map(|e| e.to_string())
    });
    let e = errors[0].as_deref().unwrap_or_default();
    assert!(e.contains("train.batch_size = 2") && e.contains("at least the 3 ranks"), "{e}");
}

#[test]
fn a_non_finite_gradient_on_one_rank_stops_every_rank_at_that_step() {
    let data = ToyDensity::TwoMoons.sample_seeded(256, 1);
    let mut bad = data.clone();
    bad.data_mut().iter_mut().for_each(|v| *v *= 1e300);
    let config = TrainConfig { steps: 5, batch_size: 32, ..TrainConfig::default() };
    let runs = on_ranks(2, |comm| {
        let rows = if comm.rank() == 1 { &bad } else { &data };
        let (params, losses, stop) = train_on(comm, rows, None, &config);
        (params == init().concat(), losses.len(), stop)
    });
    let expected = (true, 0, Some(StopReason::NonFinite { step: 1 }));
    assert_eq!(runs, vec![expected.clone(), expected]);
}
