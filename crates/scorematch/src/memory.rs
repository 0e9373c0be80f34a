//! The memory a request needs, estimated before anything is allocated, against what the
//! machine has: a model, a training run or a sampler too large for the machine is refused
//! with a message giving the sizes, never by an allocation failure (which aborts the
//! process).
//!
//! An estimate adds up the buffers a request allocates, each as elements × bytes per
//! element with saturating arithmetic (so absurd sizes give a huge need, never an
//! overflow):
//!
//! - **parameters**: N = Σ over tensors of Π shape (checked products,
//!   [`ParamSpec::checked_numel`](crate::model::ParamSpec::checked_numel)); initialisation
//!   draws them in `f64` and keeps a copy at the run's precision;
//! - **training state**: N × (gradients + last good step + best validation copy +
//!   optimiser moments) at the run's precision;
//! - **chains**: R × D `f64` per state vector a sampler keeps (the states, the scores, a
//!   proposal, the kept snapshots);
//! - **compiled programs**: the buffers of the program at its batch size B. A program's
//!   buffers are known only once it is compiled, and compiling at B allocates them, so
//!   [`program_bytes`] compiles it at small probe batches b and 2b and extrapolates
//!   linearly, bytes(B) ≈ bytes(b) + (B − b)·(bytes(2b) − bytes(b))/b: every value of a
//!   program is either batch-sized or parameter-sized, so the buffers grow linearly in B
//!   once b is at least the model's widest layer (below it, batch-sized values fit in
//!   freed parameter-sized buffers and the slope is underestimated).
//!
//! The need is compared with [`available`]: `MemAvailable` of `/proc/meminfo` on Linux
//! (memory the kernel can hand out without swapping); where that is unknown nothing is
//! refused. A refusal is a [`ConfigError`] naming the setting that drives the size
//! (`sampler.n_chains`, `model.hidden`, …), so that each front words it in its own terms.

use std::fmt;

use scorematch_graph::{DType, Element};

use crate::error::{ConfigError, Result};
use crate::model::{CompiledField, Model};
use crate::objective::Objective;
use crate::sample::{SamplerConfig, SamplerKind};
use crate::train::{CompiledLoss, TrainConfig};

/// Smallest probe batch of [`program_bytes`].
pub const MIN_PROBE_BATCH: usize = 16;
/// Largest probe batch of [`program_bytes`].
pub const MAX_PROBE_BATCH: usize = 256;

/// A byte count, shown in binary units with three significant digits: `37.2 GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 == u64::MAX {
            return f.write_str("more than 16 EiB");
        }
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 { write!(f, "{} B", self.0) } else { write!(f, "{value:.1} {}", UNITS[unit]) }
    }
}

/// Bytes that new allocations can take without swapping: `MemAvailable` of
/// `/proc/meminfo`; `None` where that is unknown (not Linux, or unreadable).
pub fn available() -> Option<u64> {
    mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// The `MemAvailable` line of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    let unit = match words.next() {
        Some("kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(unit)
}

/// Bytes per element of `dtype`.
pub fn dtype_bytes(dtype: DType) -> usize {
    match dtype {
        DType::F32 => 4,
        DType::F64 => 8,
    }
}

/// `count` elements of `size` bytes each, saturating at `u64::MAX`.
pub fn elements(count: usize, size: usize) -> u64 {
    (count as u64).saturating_mul(size as u64)
}

/// The bytes of a compiled program's buffers at batch `batch`, given `bytes_at(b)`, the
/// buffers of the program compiled at batch b: compiled at `batch` itself when it is at
/// most twice the probe batch b = `widest` clamped to [[`MIN_PROBE_BATCH`],
/// [`MAX_PROBE_BATCH`]], else extrapolated from b and 2b (see the module docs).
/// `widest`: the model's widest layer (or largest parameter dimension).
pub fn program_bytes(
    batch: usize,
    widest: usize,
    bytes_at: &mut dyn FnMut(usize) -> Result<u64>,
) -> Result<u64> {
    let probe = widest.clamp(MIN_PROBE_BATCH, MAX_PROBE_BATCH);
    if batch <= 2 * probe {
        return bytes_at(batch);
    }
    let (small, large) = (bytes_at(probe)?, bytes_at(2 * probe)?);
    let per_row = large.saturating_sub(small).div_ceil(probe as u64);
    Ok(small.saturating_add(per_row.saturating_mul((batch - probe) as u64)))
}

/// The number of scalar parameters of `model`, `None` when it overflows `usize`.
pub fn param_count(model: &dyn Model) -> Option<usize> {
    let specs = model.param_specs();
    specs.iter().try_fold(0usize, |n, s| n.checked_add(s.checked_numel()?))
}

/// The largest dimension of any of `model`'s parameter tensors: its widest layer.
pub fn widest(model: &dyn Model) -> usize {
    let specs = model.param_specs();
    specs.iter().flat_map(|s| s.shape.iter().copied()).max().unwrap_or(1)
}

/// The bytes of `objective`'s program for `model` at batch `batch` in precision `T`
/// (with the parameter gradient when `grads`), by [`program_bytes`].
pub fn loss_bytes<T: Element>(
    model: &dyn Model,
    objective: &Objective,
    batch: usize,
    grads: bool,
    threads: usize,
) -> Result<u64> {
    program_bytes(batch, widest(model), &mut |b| {
        Ok(CompiledLoss::<T>::new(model, objective, b, grads, threads)?.bytes() as u64)
    })
}

/// The bytes of `model`'s compiled field at batch `batch` in precision `T` (with its
/// input buffers), by [`program_bytes`].
pub fn field_bytes<T: Element>(model: &dyn Model, batch: usize, threads: usize) -> Result<u64> {
    let inputs = elements(batch.saturating_mul(model.dim() + 1), size_of::<T>());
    let program = program_bytes(batch, widest(model), &mut |b| {
        Ok(CompiledField::<T>::new(model, b, threads)?.stats().bytes as u64)
    })?;
    Ok(program.saturating_add(inputs))
}

/// The bytes one chunk of exact score matching's directions may take by default (see
/// [`esm_chunk`]). A fixed budget rather than a share of the free memory, so that the chunk,
/// and with it the order in which the loss is summed, does not change with the machine.
/// Larger chunks buy little time once products have a few thousand rows (measured at
/// D = 784, H = 256, B = 128: 16 directions per chunk ran as fast as 98, in a fifth of the
/// memory).
pub const ESM_CHUNK_BYTES: u64 = 64 << 20;

/// Tangent-sized buffers live at once per direction in exact SM's program, counted from
/// the forward Laplacian's gradient: each layer's pre- and post-activation tangents kept for
/// the reverse pass, and their cotangents.
const ESM_TANGENT_COPIES: u64 = 4;

/// The default chunk of input directions of exact score matching (`objective.esm_chunk`
/// unset) for `model` at batch `batch` in `dtype`: at most as many directions as fit in
/// [`ESM_CHUNK_BYTES`], each taking B × (D + Σ layer widths) tangent entries per copy
/// (`ESM_TANGENT_COPIES`), then evened out over the ⌈D/c⌉ chunks this takes so that the
/// last chunk's zero padding stays below one direction per chunk (c = 170 on D = 256 would
/// pad 84 directions of work; c = 128 pads none). One chunk of all D directions on small
/// models; tens of directions at D = 784.
pub fn esm_chunk(model: &dyn Model, batch: usize, dtype: DType) -> usize {
    let widths = model
        .param_specs()
        .iter()
        .filter(|s| s.shape.len() == 2)
        .fold(model.dim(), |w, s| w.saturating_add(s.shape[0]));
    let per_direction = elements(batch.saturating_mul(widths), dtype_bytes(dtype))
        .saturating_mul(ESM_TANGENT_COPIES)
        .max(1);
    let dim = model.dim().max(1);
    let fit = usize::try_from(ESM_CHUNK_BYTES / per_direction).unwrap_or(usize::MAX);
    let parts = dim.div_ceil(fit.clamp(1, dim));
    dim.div_ceil(parts)
}

/// Part of a need: compiled programs' buffers.
pub const PROGRAMS: &str = "compiled programs";
/// Part of a training need: buffers the size of the parameters (their copies, the
/// optimiser's moments, the programs' gradients).
pub const PARAMETER_SIZED: &str = "parameter-sized buffers";
/// Part of a training need: buffers that grow with the batch size.
pub const BATCH_SIZED: &str = "batch-sized buffers";

/// What [`crate::train::fit`] allocates to train `model` (parameters at precision `T`,
/// already allocated) by `objective` with `config`, validating on `n_validation` rows, in
/// two parts: [`PARAMETER_SIZED`], N·(gradients + last good step + best copy + optimiser
/// moments) and the loss program's buffers at its smallest batch (1 row; 2 for a model
/// with a closed-form part, whose training batch is split in two); and [`BATCH_SIZED`], what the
/// program grows by at the batch size, with the batch buffer and the validation programs
/// ([`crate::eval::HeldoutLoss`]).
pub fn training_need<T: Element>(
    model: &dyn Model,
    objective: &Objective,
    config: &TrainConfig,
    n_validation: usize,
) -> Result<MemoryNeed> {
    let size = size_of::<T>();
    let copies = 3 + config.optimizer.state_buffers() as u64;
    let n = param_count(model).unwrap_or(usize::MAX);
    let b = config.batch_size;
    let threads = config.threads;
    let smallest = if model.closed_form().is_some() { 2 } else { 1 };
    let at_one = loss_bytes::<T>(model, objective, smallest, true, threads)?;
    let program = loss_bytes::<T>(model, objective, b, true, threads)?;
    let mut batch_sized = program
        .saturating_sub(at_one)
        .saturating_add(elements(b.saturating_mul(model.dim()), size));
    if n_validation > 0 {
        let rows = b.min(n_validation);
        let rest = n_validation % rows;
        let full = loss_bytes::<T>(model, objective, rows, false, threads)?;
        batch_sized = batch_sized.saturating_add(full);
        if rest > 0 {
            let rest = loss_bytes::<T>(model, objective, rest, false, threads)?;
            batch_sized = batch_sized.saturating_add(rest);
        }
    }
    let parameter_sized = elements(n, size).saturating_mul(copies).saturating_add(at_one);
    Ok(MemoryNeed::new().add(PARAMETER_SIZED, parameter_sized).add(BATCH_SIZED, batch_sized))
}

/// What [`crate::sample::sample_model`] allocates to run `config`'s chains on `model` at
/// precision `T`: R × D `f64` per state vector — the states, the kept snapshots
/// (`keep_last`), the scores, and the sampler's own (MALA's proposal and its score,
/// annealed Langevin's denoising copy) — and the model compiled for R rows
/// ([`field_bytes`]).
pub fn sampling_need<T: Element>(model: &dyn Model, config: &SamplerConfig) -> Result<MemoryNeed> {
    let own = match config.kind {
        SamplerKind::Langevin => 1,
        SamplerKind::Mala => 3,
        SamplerKind::Annealed => 1 + usize::from(config.denoise),
    };
    let vectors = (1 + own as u64).saturating_add(config.keep_last as u64);
    let states = config.n_chains.saturating_mul(model.dim());
    let chains = elements(states, 8).saturating_mul(vectors);
    let field = field_bytes::<T>(model, config.n_chains, config.threads)?;
    Ok(MemoryNeed::new().add("chains", chains).add("compiled model", field))
}

/// What [`crate::eval::evaluate`] allocates beyond the data: the model compiled for
/// `field_batch` rows, the held-out objective `heldout` for `heldout_batch` rows (and the
/// rows left, [`crate::eval::HeldoutLoss`]) of `n` rows, and `draws` importance samples of
/// D values with their weights.
pub fn evaluation_need<T: Element>(
    model: &dyn Model,
    field_batch: usize,
    heldout: Option<(&Objective, usize)>,
    n: usize,
    draws: usize,
    threads: usize,
) -> Result<MemoryNeed> {
    let mut programs = field_bytes::<T>(model, field_batch, threads)?;
    if let Some((objective, batch)) = heldout {
        let b = batch.clamp(1, n.max(1));
        programs = programs.saturating_add(loss_bytes::<T>(model, objective, b, false, threads)?);
        if !n.is_multiple_of(b) {
            let rest = loss_bytes::<T>(model, objective, n % b, false, threads)?;
            programs = programs.saturating_add(rest);
        }
    }
    let samples = elements(draws.saturating_mul(model.dim() + 4), 8);
    Ok(MemoryNeed::new().add(PROGRAMS, programs).add("importance samples", samples))
}

/// A request's estimated memory, part by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNeed {
    parts: Vec<(&'static str, u64)>,
}

impl MemoryNeed {
    /// No memory yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` for `what` ("parameters", "compiled program", …).
    pub fn add(mut self, what: &'static str, bytes: u64) -> Self {
        self.parts.push((what, bytes));
        self
    }

    /// The total, saturating at `u64::MAX`.
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |sum, (_, b)| sum.saturating_add(*b))
    }

    /// The bytes of the part `what` (0 when absent).
    pub fn part(&self, what: &str) -> u64 {
        self.parts.iter().filter(|(w, _)| *w == what).map(|(_, b)| *b).sum()
    }

    /// Refuses the request when it needs more than this machine has available
    /// ([`available`]; never refused where that is unknown): a [`ConfigError`] on `field`
    /// holding `value`, saying that `doing` needs the total (with its parts), what is
    /// available, and what to lower (`advice`).
    pub fn check(
        &self,
        doing: &str,
        field: &'static str,
        value: impl fmt::Display,
        advice: &str,
    ) -> Result<(), ConfigError> {
        self.check_against(available(), doing, field, value, advice)
    }

    /// [`MemoryNeed::check`] against `available` bytes.
    pub fn check_against(
        &self,
        available: Option<u64>,
        doing: &str,
        field: &'static str,
        value: impl fmt::Display,
        advice: &str,
    ) -> Result<(), ConfigError> {
        let total = self.total();
        let Some(available) = available.filter(|a| total > *a) else {
            return Ok(());
        };
        let parts: Vec<String> = self
            .parts
            .iter()
            .filter(|(_, b)| *b > 0)
            .map(|(what, b)| format!("{what} {}", Bytes(*b)))
            .collect();
        Err(ConfigError::new(
            field,
            value,
            format!(
                "{doing} needs {} of memory ({}), the machine has {} available: {advice}",
                Bytes(total),
                parts.join(", "),
                Bytes(available)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_esm_chunk_fits_the_budget_and_pads_little() {
        use crate::model::{Activation, MlpEnergy};
        let mlp = |dim, hidden: usize| MlpEnergy {
            dim,
            hidden: vec![hidden; 2],
            activation: Activation::Softplus,
            base_sigma: None,
        };
        // Small models: all D directions in one chunk.
        assert_eq!(esm_chunk(&mlp(2, 128), 256, DType::F32), 2);
        assert_eq!(esm_chunk(&mlp(16, 256), 256, DType::F32), 16);
        for dim in [64, 256, 784, 1024] {
            let model = mlp(dim, 256);
            let c = esm_chunk(&model, 128, DType::F32);
            let per_direction = 128 * (dim + 2 * 256 + 1) as u64 * 4 * ESM_TANGENT_COPIES;
            let parts = dim.div_ceil(c);
            assert!(c >= 1 && c <= dim, "D = {dim}: chunk {c}");
            assert!(c as u64 * per_direction <= ESM_CHUNK_BYTES, "D = {dim}: chunk {c} too big");
            assert!(c * parts - dim < parts, "D = {dim}: chunk {c} pads {}", c * parts - dim);
        }
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
        assert_eq!(Bytes(372 * (1 << 30) / 10).to_string(), "37.2 GiB");
        assert_eq!(Bytes(u64::MAX).to_string(), "more than 16 EiB");
        assert_eq!(elements(usize::MAX, 8), u64::MAX);
    }

    #[test]
    fn meminfo_gives_the_available_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:   23139876 kB\n";
        assert_eq!(mem_available(text), Some(23_139_876 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: many kB\n"), None);
    }

    #[test]
    fn a_need_beyond_the_machine_is_refused_with_its_size() {
        let need = MemoryNeed::new().add("chains", 3 << 40).add("compiled model", 1 << 39);
        assert_eq!(need.total(), (3 << 40) + (1 << 39));
        assert_eq!(need.part("chains"), 3 << 40);
        let e = need
            .check_against(Some(22 << 30), "sampling", "sampler.n_chains", 7, "lower it")
            .expect_err("refused");
        assert_eq!(e.field, "sampler.n_chains");
        assert_eq!(
            e.expected,
            "sampling needs 3.5 TiB of memory (chains 3.0 TiB, compiled model 512.0 GiB), the \
             machine has 22.0 GiB available: lower it"
        );
        assert!(need.check_against(Some(4 << 40), "sampling", "f", 7, "").is_ok());
        assert!(need.check_against(None, "sampling", "f", 7, "").is_ok());
        let absurd = MemoryNeed::new().add("parameters", u64::MAX).add("copy", 1);
        assert_eq!(absurd.total(), u64::MAX);
    }

    #[test]
    fn programs_are_probed_small_and_extrapolated() -> Result<()> {
        // A program of 1000 fixed bytes and 24 per row, as if compiled.
        let mut probed = Vec::new();
        let mut at = |b: usize| {
            probed.push(b);
            Ok(1000 + 24 * b as u64)
        };
        assert_eq!(program_bytes(100, 64, &mut at)?, 1000 + 2400);
        assert_eq!(program_bytes(1_000_000_000, 64, &mut at)?, 1000 + 24_000_000_000);
        assert_eq!(probed, [100, 64, 128]);
        assert_eq!(program_bytes(usize::MAX, 1 << 20, &mut |b| Ok(b as u64 * 8))?, u64::MAX);
        Ok(())
    }
}
