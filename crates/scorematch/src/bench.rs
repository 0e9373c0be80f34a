//! One training step, timed as the PyTorch and JAX anchor scripts time it
//! (`shared/bench/`): draw the projections v (or the noise z) + the loss + its gradient in
//! every parameter + an Adam update, in f32, for a softplus MLP energy f: ℝᴰ → ℝ with L
//! hidden layers of width H, on a fixed batch of B rows x ~ N(0, I).
//!
//! The step is the trainer's own: the compiled loss of [`CompiledLoss`], its noise drawn
//! by row from keyed streams ([`CompiledLoss::draw_noise_keyed`]), [`Adam`]. A cell is
//! compiled once (its compile time reported apart), warmed up (at least 5 steps and 0.2 s),
//! then timed in blocks of [`BLOCK`] steps; the time per step is the median over blocks, so
//! a block disturbed by another process does not move it.
//!
//! FLOPs per step are counted from the compiled program (`2·m·k·n` per matrix product, one
//! per element of elementwise kernels and reductions); the achieved GFLOP/s is compared with
//! the machine's GEMM peak measured in the same process ([`gemm_peak`]: a 512³ f32 product
//! through a compiled program, best of 15 blocks), times the thread count. Peak bytes are
//! the program's buffers plus the parameters, gradients and Adam's two moments.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
pub use scorematch_exec::InstrProfile;
use scorematch_exec::{CompileOptions, compile, thread_pool};
use scorematch_graph::{DType, Graph};
use serde::Serialize;

use crate::error::{ConfigError, Result};
use crate::model::{Activation, MlpEnergy, Model};
use crate::objective::{Objective, ObjectiveKind, Projection};
use crate::optim::{Adam, step_on_pool};
use crate::rng::Stream;
use crate::train::CompiledLoss;

/// Steps per timed block.
pub const BLOCK: usize = 5;

/// The anchors' grid: (name, D, H, L, B).
pub const GRID: [(&str, usize, usize, usize, usize); 4] = [
    ("G1", 2, 128, 3, 256),
    ("G2", 16, 256, 3, 256),
    ("G3", 64, 512, 3, 128),
    ("G4", 784, 1024, 2, 128),
];

/// The objectives a cell may time.
pub const OBJECTIVES: [ObjectiveKind; 4] =
    [ObjectiveKind::Ssm, ObjectiveKind::SsmVr, ObjectiveKind::Dsm, ObjectiveKind::Esm];

/// One configuration to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Data dimension D.
    pub dim: usize,
    /// Hidden width H.
    pub hidden: usize,
    /// Hidden layers L.
    pub layers: usize,
    /// Batch size B.
    pub batch: usize,
    /// The objective (one of [`OBJECTIVES`]).
    pub objective: ObjectiveKind,
    /// Worker threads.
    pub threads: usize,
    /// Exact SM's input directions per chunk (`None`: the default,
    /// [`crate::memory::esm_chunk`]).
    pub esm_chunk: Option<usize>,
}

/// What a cell measured. `--json` prints these keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The configuration.
    #[serde(flatten)]
    pub cell: Cell,
    /// Median time per step over the timed blocks, in ms.
    pub ms_per_step: f64,
    /// 1000 / `ms_per_step`.
    pub steps_per_s: f64,
    /// Floating-point operations per step, counted from the compiled program.
    pub flops_per_step: u64,
    /// Achieved GFLOP/s.
    pub gflops: f64,
    /// `gflops` over `threads` × the GEMM peak on one thread.
    pub peak_fraction: f64,
    /// The program's buffers, the parameters, gradients and Adam's moments, in bytes.
    pub peak_bytes: u64,
    /// The bytes that must be live at once in the step's schedule (the programs' live
    /// peaks instead of their buffers); `peak_bytes` over it is the buffer plan's overhead.
    pub must_live_bytes: u64,
    /// Time to build and compile the step's program, in s.
    pub compile_s: f64,
    /// Steps timed.
    pub steps: usize,
    /// The last step's loss (a sanity check: finite).
    pub loss: f64,
}

impl Cell {
    /// Checks the sizes (each at least 1) and that the objective is one of [`OBJECTIVES`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("bench.dim", self.dim)?;
        ConfigError::at_least_one("bench.hidden", self.hidden)?;
        ConfigError::at_least_one("bench.layers", self.layers)?;
        ConfigError::at_least_one("bench.batch", self.batch)?;
        ConfigError::at_least_one("threads", self.threads)?;
        if let Some(c) = self.esm_chunk {
            ConfigError::at_least_one("objective.esm_chunk", c)?;
        }
        if !OBJECTIVES.contains(&self.objective) {
            return Err(ConfigError::new(
                "bench.objective",
                self.objective,
                "must be one of ssm, ssm-vr, dsm, esm (the anchors' objectives)",
            ));
        }
        Ok(())
    }

    /// The model timed: a softplus MLP energy without a base term.
    pub fn model(&self) -> MlpEnergy {
        MlpEnergy {
            dim: self.dim,
            hidden: vec![self.hidden; self.layers],
            activation: Activation::Softplus,
            base_sigma: None,
        }
    }

    /// The objective timed, with the anchors' settings: one Gaussian projection for the
    /// sliced objectives, σ = 0.1 for DSM.
    pub fn objective(&self) -> Objective {
        match self.objective {
            ObjectiveKind::Ssm => {
                Objective::Ssm { projection: Projection::Gaussian, n_projections: 1 }
            }
            ObjectiveKind::SsmVr => {
                Objective::SsmVr { projection: Projection::Gaussian, n_projections: 1 }
            }
            ObjectiveKind::Dsm => Objective::Dsm { sigma: 0.1 },
            _ => Objective::Esm { chunk: self.esm_chunk },
        }
    }

    /// Profiles the cell's step over `runs` runs ([`profile_step`]).
    pub fn profile(&self, runs: usize) -> Result<Vec<InstrProfile>> {
        self.validate()?;
        profile_step(&self.model(), &self.objective(), self.batch, self.threads, runs)
    }

    /// Times `steps` steps (rounded up to whole blocks of [`BLOCK`]) against the one-thread
    /// GEMM peak `peak_gflops`.
    pub fn measure(&self, steps: usize, peak_gflops: f64) -> Result<Measurement> {
        self.validate()?;
        let t = time_step(&self.model(), &self.objective(), self.batch, self.threads, steps)?;
        let gflops = t.flops_per_step as f64 / (t.ms_per_step * 1e-3) / 1e9;
        Ok(Measurement {
            cell: *self,
            ms_per_step: t.ms_per_step,
            steps_per_s: 1e3 / t.ms_per_step,
            flops_per_step: t.flops_per_step,
            gflops,
            peak_fraction: gflops / (peak_gflops * self.threads as f64),
            peak_bytes: t.peak_bytes,
            must_live_bytes: t.must_live_bytes,
            compile_s: t.compile_s,
            steps: t.steps,
            loss: t.loss,
        })
    }
}

/// What [`time_step`] measured: one training step of any model and objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTiming {
    /// Median time per step over the timed blocks, in ms.
    pub ms_per_step: f64,
    /// Floating-point operations per step, counted from the compiled program.
    pub flops_per_step: u64,
    /// The program's buffers, the parameters, gradients and Adam's moments, in bytes: the
    /// step's peak memory (no other buffer is allocated per step).
    pub peak_bytes: u64,
    /// [`StepTiming::peak_bytes`] with the programs' buffers replaced by the most bytes
    /// their values hold at once ([`CompiledLoss::live_bytes`]): what must be live at
    /// once in this schedule, whatever the buffer plan.
    pub must_live_bytes: u64,
    /// Time to build and compile the step's program, in s.
    pub compile_s: f64,
    /// Steps timed.
    pub steps: usize,
    /// The last step's loss (a sanity check: finite).
    pub loss: f64,
}

/// Times the training step of `model` by `objective` in f32 on a fixed batch of `batch`
/// rows x ~ N(0, I): compiled once, warmed up (at least 5 steps and 0.2 s), then `steps`
/// steps (rounded up to whole blocks of [`BLOCK`]) timed, the median block giving the time
/// per step. The step is the trainer's: noise drawn by row from keyed streams, the loss and
/// its parameter gradient, an Adam update at lr 1e-4.
pub fn time_step(
    model: &dyn Model,
    objective: &Objective,
    batch: usize,
    threads: usize,
    steps: usize,
) -> Result<StepTiming> {
    let StepSetup { mut loss, mut params, x, compile_s } =
        StepSetup::new(model, objective, batch, threads)?;
    let mut grads: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut adam = Adam::<f32>::default();
    let pool = thread_pool(threads)?;
    let mut step_no = 0u64;
    let mut last = 0.0;
    let mut step = |params: &mut Vec<Vec<f32>>| -> Result<()> {
        step_no += 1;
        loss.draw_noise_keyed(Stream::Noise, 0, step_no, 0);
        last = loss.evaluate(params, &x)?;
        loss.copy_grads(&mut grads)?;
        step_on_pool(&mut adam, pool.as_deref(), params, &grads, 1e-4)
    };
    let warm = Instant::now();
    let mut warmed = 0;
    while warmed < 5 || warm.elapsed().as_secs_f64() < 0.2 {
        step(&mut params)?;
        warmed += 1;
    }
    let blocks = steps.max(1).div_ceil(BLOCK);
    let mut block_ms = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let t = Instant::now();
        for _ in 0..BLOCK {
            step(&mut params)?;
        }
        block_ms.push(t.elapsed().as_secs_f64() * 1e3 / BLOCK as f64);
    }
    let n_params: usize = params.iter().map(Vec::len).sum();
    // Parameters, gradients and Adam's two moments, in f32.
    let state_bytes = 4 * 4 * n_params as u64;
    Ok(StepTiming {
        ms_per_step: median(&mut block_ms),
        flops_per_step: loss.flops(),
        peak_bytes: loss.bytes() as u64 + state_bytes,
        must_live_bytes: loss.live_bytes() as u64 + state_bytes,
        compile_s,
        steps: blocks * BLOCK,
        loss: last,
    })
}

/// What a timed or profiled step runs on: the compiled loss, initial parameters and a
/// batch x ~ N(0, I), all from a fixed seed.
struct StepSetup {
    loss: CompiledLoss<f32>,
    params: Vec<Vec<f32>>,
    x: Vec<f32>,
    /// Time to build and compile the loss, in s.
    compile_s: f64,
}

impl StepSetup {
    fn new(model: &dyn Model, objective: &Objective, batch: usize, threads: usize) -> Result<Self> {
        let started = Instant::now();
        let loss = CompiledLoss::<f32>::new(model, objective, batch, true, threads)?;
        let compile_s = started.elapsed().as_secs_f64();
        let mut rng = StdRng::seed_from_u64(20_240_601);
        let params = model
            .param_specs()
            .iter()
            .map(|s| s.initialize(&mut rng).into_iter().map(|v| v as f32).collect())
            .collect();
        let x = (0..batch * model.dim())
            .map(|_| StandardNormal.sample(&mut rng))
            .map(|v: f64| v as f32)
            .collect();
        Ok(StepSetup { loss, params, x, compile_s })
    }
}

/// Times every instruction of the program that runs the step's loss and gradient (the
/// first slice's on several threads: each thread runs one such program) over `runs` runs
/// after one warm-up evaluation ([`CompiledLoss::profile`]); the optimiser update is not
/// part of it.
pub fn profile_step(
    model: &dyn Model,
    objective: &Objective,
    batch: usize,
    threads: usize,
    runs: usize,
) -> Result<Vec<InstrProfile>> {
    let StepSetup { mut loss, params, x, .. } = StepSetup::new(model, objective, batch, threads)?;
    loss.draw_noise_keyed(Stream::Noise, 0, 1, 0);
    loss.profile(&params, &x, runs)
}

/// GFLOP/s of a 512³ f32 product through a compiled program on `threads` threads: the best
/// of 15 blocks of 20 products (a peak, so the least disturbed block).
pub fn gemm_peak(threads: usize) -> Result<f64> {
    let n = 512;
    let g = Graph::new();
    let a = g.input("a", &[n, n], DType::F32);
    let b = g.input("b", &[n, n], DType::F32);
    let y = a.dot(&b);
    let mut p = compile::<f32>(&[a, b], &[y], &CompileOptions::with_threads(threads))?;
    let da: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.1).sin()).collect();
    let db: Vec<f32> = (0..n * n).map(|i| (i as f32 * 0.3).cos()).collect();
    for _ in 0..10 {
        p.run(&[&da, &db])?;
    }
    let mut best = f64::INFINITY;
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..20 {
            p.run(&[&da, &db])?;
        }
        best = best.min(t.elapsed().as_secs_f64() / 20.0);
    }
    Ok(p.flops() as f64 / best / 1e9)
}

/// The median of `values` (sorted in place); NaN for none.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => 0.5 * (values[n / 2 - 1] + values[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_cell_measures_a_finite_step() {
        let cell = Cell {
            dim: 2,
            hidden: 8,
            layers: 2,
            batch: 16,
            objective: ObjectiveKind::SsmVr,
            threads: 1,
            esm_chunk: None,
        };
        let m = cell.measure(3, 100.0).expect("measured");
        assert_eq!(m.steps, BLOCK);
        assert!(m.ms_per_step > 0.0 && m.loss.is_finite() && m.flops_per_step > 0);
        assert!(m.peak_bytes > 4 * 4 * (2 * 8 + 8 + 8 * 8 + 8 + 8 + 1));
        assert!(m.must_live_bytes > 4 * 4 * (2 * 8 + 8 + 8 * 8 + 8 + 8 + 1));
        assert!(m.must_live_bytes <= m.peak_bytes, "{m:?}");
        let bad = Cell { objective: ObjectiveKind::Mle, ..cell };
        assert!(bad.validate().is_err());
        assert!(Cell { batch: 0, ..cell }.validate().is_err());
        assert!(Cell { esm_chunk: Some(0), ..cell }.validate().is_err());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
