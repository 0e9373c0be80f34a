//! Fused elementwise kernels: a small register program run over the elements in chunks.
//!
//! A [`FusedPlan`] computes a group of elementwise nodes (unary, binary, compare, select)
//! of one element count in a single pass. Its operands are the group's external inputs
//! ([`Loc::In`]), registers ([`Loc::Reg`]: one chunk of [`CHUNK`] elements per register,
//! in a scratch area the program owns) and its outputs ([`Loc::Out`]). Uniform constants (a `Constant` node, or
//! a broadcast of one) are registers filled once per call, so `x * 0.5` reads no
//! full-size constant. For each chunk the ops run in order, each a tight loop over the
//! chunk (so it vectorises, and the per-op dispatch is paid once per chunk, not per
//! element). A member read outside the group is computed straight into its output (and
//! read back from there, still in L1, by later ops); only those outputs are written to
//! memory.
//!
//! Each op runs as one loop over the chunk: its fast kernel where `fastmath` has one for
//! the element type, else the graph crate's reference kernel over the slice
//! (`UnaryOp::map`, `BinaryOp::map`, `CmpOp::map`, `select_map`), which matches the op
//! once and runs a monomorphic loop the compiler vectorises where the op allows. Fusion
//! changes no per-element result, so a fused program is bit-identical to the unfused one.
//!
//! Threads: a call of at least [`PAR_MIN_ELEMS`] element-ops (elements × ops) is split
//! into one contiguous range per thread, each with its own registers.
//!
//! SIMD: on x86-64 the chunk loop is compiled three times — with AVX-512, with AVX2, and
//! with the baseline target's features — and the widest the CPU has (detected at run time)
//! runs. The vector width changes no per-element result (no operation is contracted or
//! reassociated), so all three agree bit for bit; AVX-512 halves the time of the
//! polynomial kernels (exp, ln, softplus, sigmoid) next to AVX2 on the Xeons profiled.

use scorematch_graph::op::select::select_map;
use scorematch_graph::{BinaryOp, CmpOp, Element, UnaryOp};

use super::{PAR_MIN_ELEMS, fastmath, same, same_mut};

/// Elements per register (one chunk): 2 KiB of `f32`, so that a program's registers stay
/// in the L1 cache. Interleaved on the G1–G4 steps, 512 ran as fast as 2048 or faster
/// (up to 1.2× on G1 sliced SM); the per-chunk dispatch is paid once per 32 AVX-512
/// vectors.
pub(crate) const CHUNK: usize = 512;
/// Most outputs a fused kernel may have (larger groups are split).
pub(crate) const MAX_OUT: usize = 16;

/// Where a fused op reads an operand or writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    /// The kernel's k-th input (read only).
    In(u32),
    /// A register.
    Reg(u32),
    /// The kernel's k-th output: a member read outside the group is written there
    /// directly, and read back from there by later ops.
    Out(u32),
}

/// One op of a fused program; the last field is the destination (a register or an
/// output, never one of the op's operands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FOp {
    /// y = u(a).
    Unary(UnaryOp, Loc, Loc),
    /// y = a ∘ b.
    Binary(BinaryOp, Loc, Loc, Loc),
    /// y = [a ⋈ b].
    Compare(CmpOp, Loc, Loc, Loc),
    /// y = c ≠ 0 ? a : b.
    Select(Loc, Loc, Loc, Loc),
}

/// A compiled fused elementwise kernel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FusedPlan {
    /// The ops, in order.
    pub ops: Vec<FOp>,
    /// Registers holding a uniform constant: (register, value), filled once per call.
    pub consts: Vec<(u32, f64)>,
    /// Registers used (constants included).
    pub n_regs: usize,
    /// Number of outputs.
    pub n_out: usize,
}

impl FusedPlan {
    /// Short name: the op's own name for a single-op kernel, `fused` otherwise.
    pub(crate) fn name(&self) -> &'static str {
        match self.ops.as_slice() {
            [FOp::Unary(u, ..)] => u.name(),
            [FOp::Binary(b, ..)] => b.name(),
            [FOp::Compare(c, ..)] => c.name(),
            [FOp::Select(..)] => "select",
            _ => "fused",
        }
    }

    /// The ops' names in order, with the number of outputs: "exp mul add → 2 out".
    pub(crate) fn op_names(&self) -> String {
        let names: Vec<&str> = self
            .ops
            .iter()
            .map(|op| match *op {
                FOp::Unary(u, ..) => u.name(),
                FOp::Binary(b, ..) => b.name(),
                FOp::Compare(c, ..) => c.name(),
                FOp::Select(..) => "select",
            })
            .collect();
        format!("{} → {} out", names.join(" "), self.n_out)
    }

    /// Threads a call over `len` elements is split across.
    pub(crate) fn leaves(&self, len: usize, threads: usize) -> usize {
        let work = len.saturating_mul(self.ops.len().max(1));
        if threads > 1 && work >= PAR_MIN_ELEMS && len >= 2 * CHUNK {
            threads.min(len / CHUNK)
        } else {
            1
        }
    }

    /// Scratch elements needed for registers by a call on `threads` threads.
    pub(crate) fn scratch_len(&self, threads: usize) -> usize {
        threads.max(1) * self.n_regs * CHUNK
    }
}

/// The source of the kernel's inputs: input k as a slice of the full length.
pub(crate) type Inputs<'s, 'a, T> = &'s (dyn Fn(usize) -> &'a [T] + Sync);

/// Runs a fused kernel over `len` elements into `outs[..p.n_out]` (each `len` long), with
/// `scratch` for registers (at least [`FusedPlan::scratch_len`]).
pub(crate) fn run<T: Element>(
    p: &FusedPlan,
    src: Inputs<'_, '_, T>,
    outs: [&mut [T]; MAX_OUT],
    len: usize,
    scratch: &mut [T],
    threads: usize,
) {
    let leaves = p.leaves(len, threads);
    let simd = Simd::detect();
    split(p, src, outs, 0, len, &mut scratch[..leaves * p.n_regs * CHUNK], leaves, simd);
}

/// Splits `[start, end)` over `leaves` register files, in parallel for more than one.
#[allow(clippy::too_many_arguments)]
fn split<T: Element>(
    p: &FusedPlan,
    src: Inputs<'_, '_, T>,
    mut outs: [&mut [T]; MAX_OUT],
    start: usize,
    end: usize,
    scratch: &mut [T],
    leaves: usize,
    simd: Simd,
) {
    if leaves <= 1 {
        return run_range(p, src, &mut outs, start, end, scratch, simd);
    }
    let left = leaves / 2;
    let mid = (start + (end - start) * left / leaves).next_multiple_of(CHUNK).min(end);
    let mut lo: [&mut [T]; MAX_OUT] = Default::default();
    let mut hi: [&mut [T]; MAX_OUT] = Default::default();
    for (k, o) in outs.into_iter().enumerate().take(p.n_out) {
        let (a, b) = o.split_at_mut(mid - start);
        (lo[k], hi[k]) = (a, b);
    }
    let (sa, sb) = scratch.split_at_mut(left * p.n_regs * CHUNK);
    rayon::join(
        || split(p, src, lo, start, mid, sa, left, simd),
        || split(p, src, hi, mid, end, sb, leaves - left, simd),
    );
}

/// Which build of the chunk loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    /// The baseline target's features.
    Baseline,
    /// AVX2 (x86-64).
    Avx2,
    /// AVX-512 F/BW/DQ/VL (x86-64).
    Avx512,
}

impl Simd {
    /// The widest build this CPU runs (the standard library caches the detection).
    fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
                return Simd::Avx512;
            }
            if has!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Baseline
    }
}

/// Runs the program over `[start, end)`; `outs` cover exactly that range.
fn run_range<T: Element>(
    p: &FusedPlan,
    src: Inputs<'_, '_, T>,
    outs: &mut [&mut [T]],
    start: usize,
    end: usize,
    regs: &mut [T],
    simd: Simd,
) {
    for &(r, v) in &p.consts {
        let r = r as usize;
        regs[r * CHUNK..(r + 1) * CHUNK].fill(T::from_f64(v));
    }
    match simd {
        // SAFETY: the CPU's support for each feature set was checked at run time
        // (`Simd::detect`).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { chunks_avx512(p, src, outs, start, end, regs) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { chunks_avx2(p, src, outs, start, end, regs) },
        _ => chunks(p, src, outs, start, end, regs),
    }
}

/// A build of [`chunks`] with some x86-64 target features enabled.
macro_rules! chunks_with {
    ($name:ident, $features:literal, $doc:literal) => {
        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name<T: Element>(
            p: &FusedPlan,
            src: Inputs<'_, '_, T>,
            outs: &mut [&mut [T]],
            start: usize,
            end: usize,
            regs: &mut [T],
        ) {
            chunks(p, src, outs, start, end, regs);
        }
    };
}

chunks_with!(
    chunks_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl",
    "[`chunks`] compiled with AVX-512."
);
chunks_with!(chunks_avx2, "avx2", "[`chunks`] compiled with AVX2.");

/// The chunk loop: every op over one chunk, chunk after chunk.
#[inline(always)]
fn chunks<T: Element>(
    p: &FusedPlan,
    src: Inputs<'_, '_, T>,
    outs: &mut [&mut [T]],
    start: usize,
    end: usize,
    regs: &mut [T],
) {
    let mut c0 = start;
    while c0 < end {
        let n = CHUNK.min(end - c0);
        for op in &p.ops {
            step(op, src, outs, regs, c0, c0 - start, n);
        }
        c0 += n;
    }
}

/// One op over one chunk: global offset `g` into the inputs, local offset `l` into the
/// outputs, `n` elements.
#[inline(always)]
fn step<T: Element>(
    op: &FOp,
    src: Inputs<'_, '_, T>,
    outs: &mut [&mut [T]],
    regs: &mut [T],
    g: usize,
    l: usize,
    n: usize,
) {
    let (FOp::Unary(.., dst) | FOp::Binary(.., dst) | FOp::Compare(.., dst) | FOp::Select(.., dst)) =
        *op;
    // The destination, borrowed mutably, and every other location read-only (operands
    // never include the destination).
    match dst {
        Loc::Reg(d) => {
            let d = d as usize;
            let (lo, rest) = regs.split_at_mut(d * CHUNK);
            let (y, hi) = rest.split_at_mut(CHUNK);
            let outs: &[&mut [T]] = outs;
            apply(op, &mut y[..n], |s| match s {
                Loc::In(k) => &src(k as usize)[g..g + n],
                Loc::Reg(r) => split_get(lo, hi, r as usize, d, CHUNK, 0, n),
                Loc::Out(k) => &outs[k as usize][l..l + n],
            });
        }
        Loc::Out(d) => {
            let d = d as usize;
            let (lo, rest) = outs.split_at_mut(d);
            let (y, hi) = rest.split_first_mut().expect("an output slot");
            let regs: &[T] = regs;
            apply(op, &mut y[l..l + n], |s| match s {
                Loc::In(k) => &src(k as usize)[g..g + n],
                Loc::Reg(r) => &regs[r as usize * CHUNK..r as usize * CHUNK + n],
                Loc::Out(k) => {
                    let k = k as usize;
                    if k < d { &lo[k][l..l + n] } else { &hi[k - d - 1][l..l + n] }
                }
            });
        }
        Loc::In(_) => unreachable!("inputs are read only"),
    }
}

/// Element `[at, at + n)` of register `r` in a register file split around `d`.
#[inline(always)]
fn split_get<'s, T>(
    lo: &'s [T],
    hi: &'s [T],
    r: usize,
    d: usize,
    w: usize,
    at: usize,
    n: usize,
) -> &'s [T] {
    if r < d {
        &lo[r * w + at..r * w + at + n]
    } else {
        let o = (r - d - 1) * w + at;
        &hi[o..o + n]
    }
}

/// Runs `op` into `y`, reading operands through `get`.
#[inline(always)]
fn apply<'a, T: Element>(op: &FOp, y: &mut [T], get: impl Fn(Loc) -> &'a [T]) {
    match *op {
        FOp::Unary(u, a, _) => unary(u, get(a), y),
        FOp::Binary(b, a, c, _) => b.map(get(a), get(c), y),
        FOp::Compare(c, a, b, _) => c.map(get(a), get(b), y),
        FOp::Select(c, a, b, _) => select_map(get(c), get(a), get(b), y),
    }
}

/// y = u(x): the fast kernel where there is one, the reference kernel otherwise.
#[inline(always)]
fn unary<T: Element>(u: UnaryOp, x: &[T], y: &mut [T]) {
    if let (Some(xf), Some(yf)) = (same::<T, f32>(x), same_mut::<T, f32>(&mut *y))
        && fastmath::unary_f32(u, xf, yf)
    {
        return;
    }
    u.map(x, y);
}

/// Whether `op`, run over elements of type `T`, falls back to its reference kernel (it has
/// no fast kernel in `fastmath`).
pub(crate) fn runs_reference<T: 'static>(op: &FOp) -> bool {
    match *op {
        FOp::Unary(u, ..) => same::<T, f32>(&[]).is_none() || !fastmath::has_unary_f32(u),
        _ => true,
    }
}
