//! A loss compiled once for a fixed batch size: feed parameters, a batch and fresh noise;
//! read the loss and, when asked for, its gradient in every parameter.
//!
//! A loss may come in parts whose sum is the loss: exact score matching's chunks of input
//! directions (`objective/exact.rs`). Its program is then run once per chunk with that
//! chunk's directions, and the loss and gradients summed in chunk order (deterministic), so
//! the memory is one chunk's. A closed-form model's training step whose α statistics need
//! every input direction takes three programs over such chunks instead (`fitted.rs`).
//!
//! ## Threads: slices of the batch
//!
//! With `threads > 1` the loss is compiled either once for the whole batch, its large
//! kernels split across threads (per-kernel threading, `scorematch_exec`), or once per
//! **slice of the batch**, one slice per thread, each program single-threaded, the slices
//! run side by side and their losses and gradients summed in slice order
//! ([`super::parts::run_and_sum`]). At the sizes of small networks (products of 256 × 128)
//! per-kernel threading cannot pay — a fork and join per kernel costs more than half a
//! kernel — while two whole programs on two cores keep both busy for the whole step. So:
//!
//! - the batch is split into `min(threads, batch)` slices (the first `batch % n` one row
//!   longer) when each slice has at least [`MIN_SLICE_FLOPS`] of work, every row's loss
//!   depends on that row only ([`Model::rows_independent`]) and a row costs less than
//!   [`WIDE_ROW_FLOPS`];
//! - a wide network (a row costing at least [`WIDE_ROW_FLOPS`]: layers of about a thousand
//!   units) keeps the whole batch in one program whose products are each split across the
//!   threads: at G4's size (784, 1024, 2 layers, batch 128) that ran 6–14% faster than two
//!   slices of 64 rows (`bench`, two threads, medians of 5 interleaved rounds, AMD EPYC),
//!   since halving a product's rows costs faer more than splitting its columns does, and
//!   the slices' gradient sum goes; at G2–G3's sizes the two were level (±5%). A row of
//!   sliced SM counts once per projection; exact SM, whose work per row grows with D
//!   rather than with the width, keeps its slices (at D = 16 and 32 they ran faster than
//!   split products in 4 of 6 pairs, by up to 1.35×);
//! - else, when the whole step is too small for a second thread to pay, it runs on the
//!   calling thread alone (two threads are never slower than one);
//! - else (a single row, or rows that must stay together) per-kernel threading.
//!
//! Every objective here is a mean of per-row losses, so the whole loss is
//! Σₚ (bₚ/B)·lossₚ over slices of bₚ rows, and likewise its gradient. A slice is fed its
//! rows of the batch and of every noise tensor (copy k of a replicated noise tensor
//! keeps rows k·B + r), so noise keyed by row ([`CompiledLoss::draw_noise_keyed`]) gives
//! each row the same draws split or not. The result is deterministic for a given thread
//! count and equals the one-thread result up to the order of floating-point sums.

use std::sync::Arc;

use rand::Rng;
use rayon::ThreadPool;
use scorematch_exec::{CompileOptions, InstrProfile, Program, compile, thread_pool};
use scorematch_graph::{Element, grad};

use super::fitted::FittedStep;
use super::parts::{LossPart, ProgramBytes, add_scaled, run_and_sum, shorten};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::model::compiled::{check_batch_len, run_fed};
use crate::objective::{DirectionChunks, NoiseDist, Objective, program_inputs};
use crate::rng::Stream;

/// Least work (FLOPs per evaluation) of one slice for the batch to be split across
/// threads: about 50 µs of a core, against the few µs of handing a slice to another
/// thread and waiting for it.
pub const MIN_SLICE_FLOPS: u64 = 4 << 20;

/// Least work (FLOPs per row of the batch, one evaluation) for which the batch is kept
/// whole and each product split across threads instead of the batch (module docs): about
/// 16 M, between G3's 10–13 M per row (where slices and split products were level) and
/// G4's 20–41 M (where split products won).
pub const WIDE_ROW_FLOPS: u64 = 16 << 20;

/// The objective compiled for `batch` rows on `threads` threads, with what feeding it
/// needs: the noise tensors' distributions and shapes, and the parameter count.
struct Built<T: Element> {
    unit: Unit<T>,
    noise: Vec<(NoiseDist, Vec<usize>)>,
    n_params: usize,
}

/// What is compiled: the loss with or without its gradient, and whether it is a training
/// step's loss ([`Objective::build_training`]: for dkef, α fitted on half the batch) or the
/// model's as it stands ([`Objective::build`]).
#[derive(Debug, Clone, Copy)]
struct Want {
    with_grad: bool,
    training: bool,
}

fn build<T: Element>(
    model: &dyn Model,
    objective: &Objective,
    batch: usize,
    want: Want,
    threads: usize,
) -> Result<Built<T>> {
    let Want { with_grad, training } = want;
    let lg = if training {
        objective.build_training(model, batch, T::DTYPE)?
    } else {
        objective.build(model, batch, T::DTYPE)?
    };
    let mut inputs = program_inputs(&lg.params, &lg.x, &lg.noise);
    inputs.extend(lg.directions.iter().map(|d| d.tensor.clone()));
    let mut outputs = vec![lg.loss.clone()];
    if with_grad {
        outputs.extend(grad(&lg.loss, &lg.params)?);
    }
    let options = CompileOptions { threads, ..CompileOptions::default() };
    let program = compile::<T>(&inputs, &outputs, &options)?;
    let noise = lg.noise.iter().map(|n| (n.dist.clone(), n.tensor.shape().to_vec())).collect();
    let directions = lg.directions.as_ref().map(|d| d.chunks());
    let chunks = directions.map_or(1, |d| d.parts());
    let grad_sums = if with_grad && chunks > 1 {
        lg.params.iter().map(|p| vec![T::zero(); p.numel()]).collect()
    } else {
        Vec::new()
    };
    let directions = directions.map(|d| (d, vec![T::zero(); d.chunk * d.dim]));
    let unit = Unit { program, directions, grad_sums, loss: 0.0 };
    Ok(Built { unit, noise, n_params: lg.params.len() })
}

/// A compiled program and, for exact SM, its chunks of input directions
/// (`objective/exact.rs`): the loss is then a sum over chunks, so one evaluation runs the
/// program once per chunk with that chunk's directions and sums the loss and gradients in
/// chunk order (deterministic), keeping the memory one chunk's. Without directions, one run.
struct Unit<T: Element> {
    program: Program<T>,
    /// Exact SM's directions and the input buffer of one chunk.
    directions: Option<(DirectionChunks, Vec<T>)>,
    /// The gradients summed over the chunks (empty with one chunk or without gradients).
    grad_sums: Vec<Vec<T>>,
    /// The last evaluation's loss, summed over the chunks.
    loss: f64,
}

impl<T: Element> Unit<T> {
    /// Runs of the program per evaluation: exact SM's number of direction chunks, else 1.
    fn chunks(&self) -> usize {
        self.directions.as_ref().map_or(1, |(d, _)| d.parts())
    }

    /// Floating-point operations per evaluation (once per chunk).
    fn flops(&self) -> u64 {
        self.program.flops().saturating_mul(self.chunks() as u64)
    }

    /// Bytes of the program's buffers, the directions buffer and the gradient sums.
    fn bytes(&self, program: ProgramBytes) -> usize {
        let own = self.directions.as_ref().map_or(0, |(_, b)| b.len())
            + self.grad_sums.iter().map(Vec::len).sum::<usize>();
        program(&self.program.stats()) + own * size_of::<T>()
    }

    /// Runs on `feeds` (parameters, batch, noise), once per chunk of directions.
    fn run<'a>(&mut self, feeds: impl Iterator<Item = &'a [T]> + Clone) -> Result<()>
    where
        T: 'a,
    {
        let chunks = self.chunks();
        let Unit { program, directions, grad_sums, loss } = self;
        *loss = 0.0;
        for chunk in 0..chunks {
            if let Some((d, buf)) = directions.as_mut() {
                d.fill(chunk, buf);
            }
            let dirs = directions.iter().map(|(_, buf)| buf.as_slice());
            run_fed(program, feeds.clone().map(shorten).chain(dirs))?;
            *loss += Element::to_f64(program.output(0)[0]);
            for (i, sum) in grad_sums.iter_mut().enumerate() {
                add_scaled(sum, program.output(1 + i), T::one(), chunk == 0);
            }
        }
        Ok(())
    }

    /// Times every instruction over `runs` runs on `feeds` with the first chunk of
    /// directions ([`Program::profile`]).
    fn profile<'a>(
        &mut self,
        feeds: impl Iterator<Item = &'a [T]>,
        runs: usize,
    ) -> Result<Vec<InstrProfile>>
    where
        T: 'a,
    {
        if let Some((d, buf)) = self.directions.as_mut() {
            d.fill(0, buf);
        }
        let dirs = self.directions.iter().map(|(_, buf)| buf.as_slice());
        let feeds: Vec<&[T]> = feeds.map(shorten).chain(dirs).collect();
        Ok(self.program.profile(&feeds, runs)?)
    }

    /// The last evaluation's gradient in parameter `i`, summed over the chunks.
    fn grad(&self, i: usize) -> &[T] {
        self.grad_sums.get(i).map_or_else(|| self.program.output(1 + i), Vec::as_slice)
    }
}

/// Rows `first_row..first_row + rows` of the batch, compiled on their own.
struct Slice<T: Element> {
    unit: Unit<T>,
    first_row: usize,
    rows: usize,
    /// rows / batch.
    weight: f64,
    /// This slice's rows of every noise tensor.
    noise: Vec<Vec<T>>,
}

impl<T: Element> LossPart<T> for Slice<T> {
    fn loss(&self) -> f64 {
        self.unit.loss
    }

    fn grad(&self, i: usize) -> &[T] {
        self.unit.grad(i)
    }

    fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Element> Slice<T> {
    /// Copies this slice's rows of the whole batch's `noise` (each of `batch` rows,
    /// replicated in copies of `batch` rows) into its own buffers, then runs on its rows
    /// of `x`.
    fn run(
        &mut self,
        params: &[Vec<T>],
        x: &[T],
        noise: &[(NoiseDist, usize, Vec<T>)],
        batch: usize,
        dim: usize,
    ) -> Result<()> {
        for ((_, row, whole), mine) in noise.iter().zip(&mut self.noise) {
            let row = (*row).max(1);
            let from = self.first_row * row..(self.first_row + self.rows) * row;
            for (dst, src) in mine.chunks_mut(self.rows * row).zip(whole.chunks(batch * row)) {
                dst.copy_from_slice(&src[from.clone()]);
            }
        }
        let x = self.rows_of(x, dim);
        let feeds = params.iter().map(Vec::as_slice).chain([x]);
        self.unit.run(feeds.chain(self.noise.iter().map(Vec::as_slice)))
    }

    /// This slice's rows of the batch `x` (rows of `dim` values).
    fn rows_of<'x>(&self, x: &'x [T], dim: usize) -> &'x [T] {
        &x[self.first_row * dim..(self.first_row + self.rows) * dim]
    }
}

/// How an evaluation runs.
enum Run<T: Element> {
    /// One program for the whole batch (threads, if any, inside its large kernels).
    Whole(Box<Unit<T>>),
    /// One single-threaded program per slice of the batch, run side by side on `pool`;
    /// `grads` holds the sums of the last evaluation's gradients.
    Sliced { slices: Vec<Slice<T>>, pool: Arc<ThreadPool>, grads: Vec<Vec<T>> },
    /// A closed-form model's training step with α's statistics in chunks of directions
    /// (`fitted.rs`).
    Fitted(Box<FittedStep<T>>),
}

/// How many slices to split a batch of `batch` rows into, whose whole evaluation costs
/// `flops`, on `threads` threads: as many as threads (at most one per row) while each has
/// at least [`MIN_SLICE_FLOPS`]; 1 means no split.
fn slice_count(threads: usize, batch: usize, flops: u64) -> usize {
    let affordable = usize::try_from(flops / MIN_SLICE_FLOPS).unwrap_or(usize::MAX);
    threads.min(batch).min(affordable).max(1)
}

/// A compiled objective: inputs are the parameters, the batch, the noise, then exact SM's
/// directions; outputs the loss, then (with gradients) ∂loss/∂θ for every parameter.
pub struct CompiledLoss<T: Element> {
    run: Run<T>,
    noise: Vec<(NoiseDist, usize, Vec<T>)>,
    n_params: usize,
    batch: usize,
    dim: usize,
    with_grad: bool,
}

impl<T: Element> CompiledLoss<T> {
    /// Builds and compiles `objective` for `model` on batches of `batch` rows, to run on
    /// `threads` threads (split into slices of the batch or not: see the module docs). With
    /// gradients it is a training step's loss (for dkef: α fitted on half the batch);
    /// without, an evaluation of the model as it stands.
    pub fn new(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        with_grad: bool,
        threads: usize,
    ) -> Result<Self> {
        Self::compile(model, objective, batch, Want { with_grad, training: with_grad }, threads)
    }

    /// The loss of `model` as it stands and its gradient: for dkef, α from the statistics
    /// stored in its parameters (no fit on the batch), so that training moves only what the
    /// stored statistics leave free (the official "λ alone" stage).
    pub fn as_it_stands(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        threads: usize,
    ) -> Result<Self> {
        Self::compile(model, objective, batch, Want { with_grad: true, training: false }, threads)
    }

    fn compile(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        want: Want,
        threads: usize,
    ) -> Result<Self> {
        let with_grad = want.with_grad;
        if batch == 0 {
            return Err(Error::InvalidArgument("batch size must be at least 1".into()));
        }
        let threads = threads.max(1);
        if let Some(chunk) = Self::fitted_chunk(model, objective, batch).filter(|_| want.training) {
            return Self::fitted(model, objective, batch, chunk, threads);
        }
        let whole = build::<T>(model, objective, batch, want, 1)?;
        let flops = whole.unit.flops();
        // A closed-form part (dkef's α) is fitted over the training batch: rows coupled.
        let coupled = !model.rows_independent() || want.training && model.closed_form().is_some();
        // Work per row measures the layers' width only where a row costs a fixed number of
        // passes (not exact SM's, which grows with D: taller products, not wider).
        let wide = objective
            .rows_through_model(batch)
            .is_some_and(|rows| flops / rows as u64 >= WIDE_ROW_FLOPS);
        let slices = if coupled || wide { 1 } else { slice_count(threads, batch, flops) };
        let run = if slices > 1 {
            Self::sliced(model, objective, batch, want, slices, &whole)?
        } else if threads > 1 && flops >= 2 * MIN_SLICE_FLOPS {
            Run::Whole(Box::new(build::<T>(model, objective, batch, want, threads)?.unit))
        } else {
            Run::Whole(Box::new(whole.unit))
        };
        Ok(Self::with_noise(run, whole.noise, whole.n_params, batch, model.dim(), with_grad))
    }

    /// A loss running `run`, with buffers for noise tensors of the given distributions
    /// and shapes.
    fn with_noise(
        run: Run<T>,
        noise: Vec<(NoiseDist, Vec<usize>)>,
        n_params: usize,
        batch: usize,
        dim: usize,
        with_grad: bool,
    ) -> Self {
        let noise = noise
            .into_iter()
            .map(|(dist, shape)| {
                let numel = shape.iter().product();
                (dist, shape[shape.len() - 1], vec![T::zero(); numel])
            })
            .collect();
        Self { run, noise, n_params, batch, dim, with_grad }
    }

    /// The chunk of input directions in which a training step of `model` by `objective` on
    /// `batch` rows takes α's statistics (`fitted.rs`): `Some(c)` for a closed-form model
    /// whose statistics are over directions when c ([`Objective::direction_chunk`]) is below
    /// D; `None` when the step is one program.
    pub fn fitted_chunk(model: &dyn Model, objective: &Objective, batch: usize) -> Option<usize> {
        let over = model.closed_form().is_some() && objective.system_over_directions();
        let chunk = objective.direction_chunk(model, batch, T::DTYPE);
        (over && chunk < model.dim()).then_some(chunk)
    }

    /// The training step of a closed-form model with α's statistics in chunks of `chunk`
    /// input directions (`fitted.rs`), as training takes it when one chunk cannot hold
    /// all D; public so that tests can compare it with the one-program step.
    pub fn fitted(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        chunk: usize,
        threads: usize,
    ) -> Result<Self> {
        let (step, noise) = FittedStep::new(model, objective, batch, chunk, threads)?;
        let n_params = model.param_specs().len();
        let run = Run::Fitted(Box::new(step));
        Ok(Self::with_noise(run, noise, n_params, batch, model.dim(), true))
    }

    /// `slices` single-threaded programs over consecutive rows of the batch, the first
    /// `batch % slices` one row longer; `whole` (the unsplit build) gives the noise shapes
    /// and parameter count.
    fn sliced(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        want: Want,
        slices: usize,
        whole: &Built<T>,
    ) -> Result<Run<T>> {
        let pool = thread_pool(slices)?
            .ok_or_else(|| Error::InvalidArgument("a split batch needs two threads".into()))?;
        let mut parts = Vec::with_capacity(slices);
        let mut first_row = 0;
        for k in 0..slices {
            let rows = batch / slices + usize::from(k < batch % slices);
            let built = build::<T>(model, objective, rows, want, 1)?;
            let noise = whole
                .noise
                .iter()
                .map(|(_, shape)| vec![T::zero(); shape.iter().product::<usize>() / batch * rows])
                .collect();
            let weight = rows as f64 / batch as f64;
            parts.push(Slice { unit: built.unit, first_row, rows, weight, noise });
            first_row += rows;
        }
        let grads = if want.with_grad {
            (0..whole.n_params)
                .map(|i| vec![T::zero(); whole.unit.program.output(1 + i).len()])
                .collect()
        } else {
            Vec::new()
        };
        Ok(Run::Sliced { slices: parts, pool, grads })
    }

    /// The batch size this loss was compiled for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// How many slices of the batch run side by side (1: the whole batch in one program).
    pub fn slices(&self) -> usize {
        match &self.run {
            Run::Whole(_) | Run::Fitted(_) => 1,
            Run::Sliced { slices, .. } => slices.len(),
        }
    }

    /// Runs of each program per evaluation: exact SM's number of direction chunks, else 1.
    pub fn parts(&self) -> usize {
        match &self.run {
            Run::Whole(unit) => unit.chunks(),
            Run::Sliced { slices, .. } => slices[0].unit.chunks(),
            Run::Fitted(step) => step.chunks(),
        }
    }

    /// Floating-point operations per evaluation, counted from the compiled program(s).
    pub fn flops(&self) -> u64 {
        match &self.run {
            Run::Whole(unit) => unit.flops(),
            Run::Sliced { slices, .. } => slices.iter().map(|s| s.unit.flops()).sum(),
            Run::Fitted(step) => step.flops(),
        }
    }

    /// Bytes of the compiled program(s)' buffers, with the noise buffers and, for a split
    /// batch, the sums of the slices' gradients.
    pub fn bytes(&self) -> usize {
        self.bytes_with(|s| s.bytes)
    }

    /// [`CompiledLoss::bytes`] with each program's buffers replaced by the most bytes its
    /// values hold at once ([`ProgramStats::live_peak_bytes`](scorematch_exec::ProgramStats)):
    /// what the same programs need at least, whatever the buffer plan. Programs that run
    /// one after the other (slices, a closed-form step's three passes) keep their buffers
    /// between runs, so their peaks add up.
    pub fn live_bytes(&self) -> usize {
        self.bytes_with(|s| s.live_peak_bytes)
    }

    /// The bytes of everything the loss holds, counting `program`'s bytes per program.
    fn bytes_with(&self, program: ProgramBytes) -> usize {
        let elems = |v: &[Vec<T>]| v.iter().map(Vec::len).sum::<usize>();
        let noise: usize = self.noise.iter().map(|n| n.2.len()).sum();
        let programs = match &self.run {
            Run::Whole(unit) => unit.bytes(program),
            Run::Fitted(step) => step.bytes(program),
            Run::Sliced { slices, grads, .. } => {
                let own: usize = slices.iter().map(|s| elems(&s.noise)).sum();
                let programs: usize = slices.iter().map(|s| s.unit.bytes(program)).sum();
                programs + (own + elems(grads)) * size_of::<T>()
            }
        };
        programs + noise * size_of::<T>()
    }

    /// Mutable access to the noise buffers, to supply given draws instead of random ones.
    pub fn noise_buffers_mut(&mut self) -> impl Iterator<Item = &mut Vec<T>> {
        self.noise.iter_mut().map(|n| &mut n.2)
    }

    /// Draws fresh noise into the noise buffers.
    pub fn draw_noise(&mut self, rng: &mut impl Rng) {
        for (dist, row, buf) in &mut self.noise {
            dist.fill(buf, *row, rng);
        }
    }

    /// Draws the noise keyed by row: the row at batch position `first_row + r` (of a batch
    /// that may be split across callers) takes all its draws — its copies in every noise
    /// tensor, copy `k` being row `k·batch + r` — from `stream.keyed(seed, &[step,
    /// first_row + r])`. A row's draws thus depend on the step and its position only.
    pub fn draw_noise_keyed(&mut self, stream: Stream, seed: u64, step: u64, first_row: usize) {
        let batch = self.batch;
        for r in 0..batch {
            let mut rng = stream.keyed(seed, &[step, (first_row + r) as u64]);
            for (dist, row, buf) in &mut self.noise {
                let row = (*row).max(1);
                for copy in buf.chunks_mut(batch * row) {
                    dist.fill(&mut copy[r * row..(r + 1) * row], row, &mut rng);
                }
            }
        }
    }

    /// Evaluates on `x` (batch × dim, row-major) with the current noise buffers; returns
    /// the loss. Slices of the batch run side by side and chunks of exact SM's directions
    /// one after the other, their losses (in f64) and gradients summed in order.
    pub fn evaluate(&mut self, params: &[Vec<T>], x: &[T]) -> Result<f64> {
        check_batch_len(x.len(), self.batch, self.dim)?;
        let (noise, batch, dim) = (&self.noise, self.batch, self.dim);
        match &mut self.run {
            Run::Whole(unit) => {
                let noise = noise.iter().map(|n| n.2.as_slice());
                unit.run(params.iter().map(Vec::as_slice).chain([x]).chain(noise))?;
                Ok(unit.loss)
            }
            Run::Sliced { slices, pool, grads } => {
                let run = |s: &mut Slice<T>| s.run(params, x, noise, batch, dim);
                run_and_sum(slices, Some(pool), run, grads)
            }
            Run::Fitted(step) => {
                let noise = noise.iter().map(|n| n.2.as_slice());
                step.run(params.iter().map(Vec::as_slice).chain([x]).chain(noise))?;
                Ok(step.loss_value)
            }
        }
    }

    /// Evaluates on `x` once, then times every instruction of the program that runs the
    /// step over `runs` more runs ([`Program::profile`]): the whole batch's program, or the
    /// first slice's when the batch runs as slices side by side (each thread runs one such
    /// program), with the first chunk of exact SM's directions. A closed-form model's
    /// chunked step runs three programs and is not profiled.
    pub fn profile(
        &mut self,
        params: &[Vec<T>],
        x: &[T],
        runs: usize,
    ) -> Result<Vec<InstrProfile>> {
        self.evaluate(params, x)?;
        let params = params.iter().map(Vec::as_slice);
        match &mut self.run {
            Run::Whole(unit) => {
                let noise = self.noise.iter().map(|n| n.2.as_slice());
                unit.profile(params.chain([x]).chain(noise), runs)
            }
            Run::Sliced { slices, .. } => {
                let first = &mut slices[0];
                let x = first.rows_of(x, self.dim);
                let noise: Vec<&[T]> = first.noise.iter().map(Vec::as_slice).collect();
                first.unit.profile(params.chain([x]).chain(noise), runs)
            }
            Run::Fitted(_) => Err(Error::InvalidArgument(
                "a closed-form model's step in chunks of directions runs three programs; \
                 profile it with objective.esm_chunk at least the data dimension"
                    .into(),
            )),
        }
    }

    /// Draws fresh noise, then evaluates.
    pub fn evaluate_with_fresh_noise(
        &mut self,
        params: &[Vec<T>],
        x: &[T],
        rng: &mut impl Rng,
    ) -> Result<f64> {
        self.draw_noise(rng);
        self.evaluate(params, x)
    }

    /// The gradient of the last evaluation in parameter `i`.
    /// `None` when the loss was compiled without gradients or `i` is not a parameter.
    pub fn grad(&self, i: usize) -> Option<&[T]> {
        (self.with_grad && i < self.n_params).then(|| match &self.run {
            Run::Whole(unit) => unit.grad(i),
            Run::Sliced { grads, .. } => grads[i].as_slice(),
            Run::Fitted(step) => step.grad(i),
        })
    }

    /// Copies the last evaluation's gradients into `out` (one buffer per parameter).
    pub fn copy_grads(&self, out: &mut [Vec<T>]) -> Result<()> {
        if !self.with_grad || out.len() != self.n_params {
            return Err(Error::Shape(format!(
                "{} gradient buffers for {} parameters (compiled with gradients: {})",
                out.len(),
                self.n_params,
                self.with_grad
            )));
        }
        for (i, g) in out.iter_mut().enumerate() {
            if let Some(src) = self.grad(i) {
                g.copy_from_slice(src);
            }
        }
        Ok(())
    }
}
