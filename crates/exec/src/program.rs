//! The compiled [`Program`]: instructions, preallocated buffers, and the run loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rayon::ThreadPool;
use scorematch_graph::Element;

use crate::denormals::{FlushGuard, flush_on_this_thread};
use crate::error::ExecError;
use crate::instr::{Ctx, Instr, Kernel};

/// A program input: its name and static shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The input's name in the graph.
    pub name: String,
    /// Its static shape.
    pub shape: Vec<usize>,
}

/// Where an output lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputSpec {
    pub buf: usize,
    pub len: usize,
    pub shape: Vec<usize>,
}

/// What a compiled program holds and does, for reports and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramStats {
    /// Instructions run per [`Program::run`].
    pub instructions: usize,
    /// Physical buffers (constants included).
    pub buffers: usize,
    /// Bytes of all buffers.
    pub bytes: usize,
    /// The most bytes of values live at once in the program's schedule (constants and
    /// outputs included, the caller's inputs not): what any buffer plan for this schedule
    /// needs at least. [`ProgramStats::bytes`] over it is the plan's overhead, from
    /// buffers reused by smaller values.
    pub live_peak_bytes: usize,
    /// Values produced by instructions or constants (before buffer reuse).
    pub values: usize,
    /// Bytes one buffer per value would take (what reuse saves is the difference to
    /// [`ProgramStats::bytes`]).
    pub unshared_bytes: usize,
    /// Constants and literals, materialised at compile time.
    pub constants: usize,
    /// Nodes computed without an instruction (reshape, stop_gradient, a same-dtype
    /// convert, layout ops that move nothing): zero-copy views of their operand.
    pub aliases: usize,
    /// `mt` transposes read by `dot` through swapped strides instead of materialised.
    pub absorbed_transposes: usize,
    /// Instructions that use the graph crate's reference kernel.
    pub reference_kernels: usize,
    /// Elementwise ops that fused kernels run with the graph crate's reference kernel, for
    /// want of a fast kernel of their own in this element type (see the crate docs).
    pub reference_elementwise: usize,
    /// Elementwise nodes computed inside fused kernels of two or more nodes.
    pub fused_nodes: usize,
    /// Floating-point operations per run (see [`Program::flops`]).
    pub flops: u64,
    /// Instruction count per kernel name, sorted by name.
    pub kernels: Vec<(&'static str, usize)>,
}

/// Runs `f` on `pool` (a [`thread_pool`]), so that rayon work inside it — a program's
/// parallel kernels, an optimiser's update in pieces — runs on the pool's threads; on the
/// calling thread when there is no pool (one thread).
pub fn on_pool<R: Send>(pool: Option<&ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// One instruction's time in [`Program::profile`].
#[derive(Debug, Clone, PartialEq)]
pub struct InstrProfile {
    /// The kernel's name (as in [`ProgramStats::kernels`]).
    pub kernel: &'static str,
    /// Its parameters in words: a product's shape and transposes, an element count.
    pub detail: String,
    /// Floating-point operations per run.
    pub flops: u64,
    /// Mean time per run, in s.
    pub seconds: f64,
}

/// What the compiler hands over to build a [`Program`]: instructions over physical
/// buffers, the buffers' sizes, the constants' data by buffer, and the statistics.
pub(crate) struct ProgramParts<T> {
    pub instrs: Vec<Instr>,
    pub buf_sizes: Vec<usize>,
    pub consts: Vec<(usize, Vec<T>)>,
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
    pub threads: usize,
    pub stats: ProgramStats,
}

/// A compiled program over element type `T`: fixed shapes, preallocated buffers, a flat
/// instruction list. `Send`, and independent of the graph it was compiled from.
#[derive(Debug)]
pub struct Program<T> {
    instrs: Vec<Instr>,
    bufs: Vec<Vec<T>>,
    /// Registers of fused kernels (one register file per thread).
    scratch: Vec<T>,
    inputs: Vec<InputSpec>,
    input_shapes: Vec<Vec<usize>>,
    outputs: Vec<OutputSpec>,
    threads: usize,
    pool: Option<Arc<ThreadPool>>,
    stats: ProgramStats,
}

/// The rayon pool of exactly `threads` threads that every program compiled with that count
/// runs on (`None` for one thread: the caller's). Public so that a caller running several
/// single-threaded programs side by side (a batch split into slices) uses the same workers
/// instead of a second pool competing with them for the cores.
pub fn thread_pool(threads: usize) -> Result<Option<Arc<ThreadPool>>, ExecError> {
    if threads <= 1 {
        return Ok(None);
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(Some(p.clone()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("scorematch-exec-{threads}-{i}"))
        .start_handler(|_| flush_on_this_thread())
        .build()
        .map_err(|e| ExecError::ThreadPool { threads, message: e.to_string() })?;
    let pool = Arc::new(pool);
    pools.insert(threads, pool.clone());
    Ok(Some(pool))
}

impl<T: Element> Program<T> {
    /// Allocates the buffers once, fills the constants and sets up the pool.
    pub(crate) fn new(parts: ProgramParts<T>) -> Result<Self, ExecError> {
        let ProgramParts { instrs, buf_sizes, consts, inputs, outputs, threads, stats } = parts;
        let mut bufs: Vec<Vec<T>> = buf_sizes.iter().map(|&s| vec![T::zero(); s]).collect();
        for (b, data) in &consts {
            bufs[*b][..data.len()].copy_from_slice(data);
        }
        let scratch_len = instrs
            .iter()
            .map(|i| match &i.kernel {
                Kernel::Fused(f) => f.scratch_len(threads),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Ok(Program {
            instrs,
            bufs,
            scratch: vec![T::zero(); scratch_len],
            input_shapes: inputs.iter().map(|s| s.shape.clone()).collect(),
            inputs,
            outputs,
            threads,
            pool: thread_pool(threads)?,
            stats,
        })
    }

    /// Runs the program on `inputs` (one slice per program input, in `compile`'s order,
    /// row-major, of exactly the input's element count). Afterwards the results are
    /// readable through [`Program::output`]. No allocation and no graph walk: the
    /// instruction list runs against the preallocated buffers, and inputs are read in
    /// place.
    pub fn run(&mut self, inputs: &[&[T]]) -> Result<(), ExecError> {
        self.check_inputs(inputs)?;
        let ctx = Ctx { threads: self.threads };
        let (instrs, bufs, scratch) = (&self.instrs, &mut self.bufs, &mut self.scratch);
        let exec = move || {
            let _flush = FlushGuard::new();
            for ins in instrs {
                ins.execute(bufs, inputs, scratch, ctx);
            }
        };
        on_pool(self.pool.as_deref(), exec);
        Ok(())
    }

    /// Runs the program `runs` times like [`Program::run`], timing every instruction: one
    /// [`InstrProfile`] per instruction, in program order, with its mean time per run.
    /// The clock read around each instruction costs tens of nanoseconds, so the times of
    /// tiny kernels are upper bounds; the sum is close to `runs` plain runs.
    pub fn profile(
        &mut self,
        inputs: &[&[T]],
        runs: usize,
    ) -> Result<Vec<InstrProfile>, ExecError> {
        self.check_inputs(inputs)?;
        let ctx = Ctx { threads: self.threads };
        let mut seconds = vec![0.0f64; self.instrs.len()];
        let (instrs, bufs, scratch) = (&self.instrs, &mut self.bufs, &mut self.scratch);
        let times = &mut seconds;
        let exec = move || {
            let _flush = FlushGuard::new();
            for _ in 0..runs {
                for (ins, t) in instrs.iter().zip(times.iter_mut()) {
                    let started = Instant::now();
                    ins.execute(bufs, inputs, scratch, ctx);
                    *t += started.elapsed().as_secs_f64();
                }
            }
        };
        on_pool(self.pool.as_deref(), exec);
        Ok(self
            .instrs
            .iter()
            .zip(seconds)
            .map(|(ins, seconds)| InstrProfile {
                kernel: ins.kernel.name(),
                detail: ins.detail(),
                flops: ins.flops,
                seconds: seconds / runs.max(1) as f64,
            })
            .collect())
    }

    /// Checks that `inputs` has one slice per program input, each of its element count.
    fn check_inputs(&self, inputs: &[&[T]]) -> Result<(), ExecError> {
        if inputs.len() != self.inputs.len() {
            return Err(ExecError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
                names: self
                    .inputs
                    .iter()
                    .map(|s| format!("{} {:?}", s.name, s.shape))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        for (position, (spec, data)) in self.inputs.iter().zip(inputs).enumerate() {
            let expected: usize = spec.shape.iter().product();
            if data.len() != expected {
                return Err(ExecError::FeedLength {
                    name: spec.name.clone(),
                    position,
                    shape: spec.shape.clone(),
                    expected,
                    got: data.len(),
                });
            }
        }
        Ok(())
    }

    /// Output `i` of the last run (zeros before the first run; constants are ready at
    /// once). Panics when `i >= num_outputs()`.
    pub fn output(&self, i: usize) -> &[T] {
        let o = &self.outputs[i];
        &self.bufs[o.buf][..o.len]
    }

    /// The static shape of output `i`. Panics when `i >= num_outputs()`.
    pub fn output_shape(&self, i: usize) -> &[usize] {
        &self.outputs[i].shape
    }

    /// Number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// The static shape of each input, in feeding order.
    pub fn input_shapes(&self) -> &[Vec<usize>] {
        &self.input_shapes
    }

    /// Name and shape of each input, in feeding order.
    pub fn inputs(&self) -> &[InputSpec] {
        &self.inputs
    }

    /// Threads the program runs on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Floating-point operations per run, counted from the compiled instructions: 2·m·k·n
    /// per matrix product (times the batch), one per element of each elementwise kernel,
    /// one per input element of each reduction, none for layout and aliases. Divide by a
    /// run's time for GFLOP/s against a GEMM peak.
    pub fn flops(&self) -> u64 {
        self.stats.flops
    }

    /// Statistics of the compiled program.
    pub fn stats(&self) -> ProgramStats {
        self.stats.clone()
    }
}
