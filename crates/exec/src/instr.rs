//! The instruction set: one [`Instr`] per emitted node, a [`Kernel`] variant per kernel
//! family, and the dispatcher that runs one instruction against the program's buffers.
//!
//! An instruction reads its operands from [`Slot`]s (a program buffer or a caller's input
//! slice, read in place) and writes one program buffer, `dst`, which the buffer plan
//! guarantees is never one of its own operands. Every kernel parameter is fixed at compile
//! time; running an instruction does no graph walk and no allocation (except the
//! [`Kernel::Reference`] fallback, see the crate docs).
//!
//! Elementwise nodes run as [`Kernel::Fused`] register programs, which may write several
//! outputs: `dst` and then `more`, all of the same length.

use scorematch_graph::{Element, Op, Operand};

use crate::kernels::fused::{self, FusedPlan, MAX_OUT};
use crate::kernels::layout::{Strided, Transpose2};
use crate::kernels::matmul::DotPlan;
use crate::kernels::reduce::{ReduceKind, ReducePlan};
use crate::kernels::{layout, matmul, reduce};

/// Where an operand lives at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The caller's input slice at this position (read in place, never copied).
    Input(usize),
    /// A program buffer (a virtual value id before buffer assignment, a physical buffer
    /// index after).
    Buf(usize),
}

/// One kernel with its compile-time parameters.
#[derive(Debug, Clone)]
pub(crate) enum Kernel {
    /// Elementwise nodes (one or several, fused) as a register program, contiguous.
    Fused(Box<FusedPlan>),
    /// Batched matrix product through faer.
    Dot(DotPlan),
    /// y = x, contiguous (an output that is an input, or a reshape of one).
    Copy,
    /// y[i] = x[f(i)] for an affine f: broadcast, N-D transpose, slice.
    Gather(Strided),
    /// Batched, cache-blocked 2-D transpose.
    Transpose2(Transpose2),
    /// y = 0, then x scattered into its window of y.
    Pad(Strided),
    /// Each operand scattered into its stripe of y.
    Concat(Vec<Strided>),
    /// reduce_sum / reduce_max.
    Reduce(ReduceKind, ReducePlan),
    /// The graph crate's reference kernel (`Op::reference_kernel`), for what has no fast
    /// path. Allocates small index vectors inside the reference kernel.
    Reference(Box<RefKernel>),
}

/// Parameters of a reference-kernel fallback.
#[derive(Debug, Clone)]
pub(crate) struct RefKernel {
    /// The op.
    pub op: Op,
    /// Operand shapes.
    pub in_shapes: Vec<Vec<usize>>,
    /// Output shape.
    pub out_shape: Vec<usize>,
}

impl Kernel {
    /// Short name for statistics and debugging.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Kernel::Fused(f) => f.name(),
            Kernel::Dot(_) => "dot",
            Kernel::Copy => "copy",
            Kernel::Gather(_) => "gather",
            Kernel::Transpose2(_) => "transpose2",
            Kernel::Pad(_) => "pad",
            Kernel::Concat(_) => "concat",
            Kernel::Reduce(ReduceKind::Sum, _) => "reduce_sum",
            Kernel::Reduce(ReduceKind::Max, _) => "reduce_max",
            Kernel::Reference(r) => r.op.name(),
        }
    }
}

/// One instruction: a kernel, the slots it reads and the buffer it writes.
#[derive(Debug, Clone)]
pub(crate) struct Instr {
    /// The kernel.
    pub kernel: Kernel,
    /// Operand slots, in the kernel's operand order.
    pub srcs: Vec<Slot>,
    /// Element count of each operand.
    pub src_lens: Vec<usize>,
    /// The buffer written (a fused kernel's first output).
    pub dst: usize,
    /// A fused kernel's further outputs, each `dst_len` long.
    pub more: Vec<usize>,
    /// Element count written (to each output).
    pub dst_len: usize,
    /// Floating-point operations counted for this instruction.
    pub flops: u64,
}

/// Run-time context shared by all instructions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// Threads available (1 = sequential).
    pub threads: usize,
}

/// The view of a slot, `len` elements long.
#[inline]
fn view<'a, T>(bufs: &'a [Vec<T>], inputs: &[&'a [T]], slot: Slot, len: usize) -> &'a [T] {
    match slot {
        Slot::Input(i) => &inputs[i][..len],
        Slot::Buf(b) => &bufs[b][..len],
    }
}

impl Instr {
    /// The instruction's parameters in words, for profiles: a product's batch, shape and
    /// which operands are read transposed; else the element count written.
    pub(crate) fn detail(&self) -> String {
        match &self.kernel {
            Kernel::Dot(p) => {
                let t = |yes: bool| if yes { "ᵀ" } else { "" };
                format!(
                    "{}{}×[{}×{}]{}·[{}×{}]{}",
                    if p.accumulate { "+= " } else { "" },
                    p.batch,
                    p.m,
                    p.k,
                    t(p.a_t),
                    p.k,
                    p.n,
                    t(p.b_t)
                )
            }
            Kernel::Fused(f) if f.ops.len() > 1 => {
                format!("{} elements: {}", self.dst_len, f.op_names())
            }
            _ => format!("{} elements", self.dst_len),
        }
    }

    /// Whether the instruction adds into its destination's current value (a product
    /// accumulated into a sum): the destination is then also read, and already holds a
    /// buffer when the instruction runs.
    pub(crate) fn accumulates(&self) -> bool {
        matches!(self.kernel, Kernel::Dot(DotPlan { accumulate: true, .. }))
    }

    /// Runs the instruction: reads its operands, writes `dst` (and `more`). `scratch` holds
    /// a fused kernel's registers.
    pub(crate) fn execute<T: Element>(
        &self,
        bufs: &mut [Vec<T>],
        inputs: &[&[T]],
        scratch: &mut [T],
        ctx: Ctx,
    ) {
        if let Kernel::Fused(p) = &self.kernel {
            return self.execute_fused(p, bufs, inputs, scratch, ctx);
        }
        // Move the destination out (no allocation: an empty Vec owns nothing) so that the
        // operands can be borrowed from the other buffers; the plan never makes `dst` an
        // operand of its own instruction.
        let mut out = std::mem::take(&mut bufs[self.dst]);
        {
            let bufs: &[Vec<T>] = bufs;
            let src = |k: usize| view(bufs, inputs, self.srcs[k], self.src_lens[k]);
            let y = &mut out[..self.dst_len];
            run_kernel(&self.kernel, &src, y, ctx);
        }
        bufs[self.dst] = out;
    }

    /// Runs a fused kernel: its output buffers are moved out (into an array, so nothing is
    /// allocated), written, and moved back.
    fn execute_fused<T: Element>(
        &self,
        p: &FusedPlan,
        bufs: &mut [Vec<T>],
        inputs: &[&[T]],
        scratch: &mut [T],
        ctx: Ctx,
    ) {
        let mut taken: [Vec<T>; MAX_OUT] = Default::default();
        for (t, &d) in taken.iter_mut().zip(std::iter::once(&self.dst).chain(&self.more)) {
            *t = std::mem::take(&mut bufs[d]);
        }
        {
            let bufs: &[Vec<T>] = bufs;
            let src = |k: usize| view(bufs, inputs, self.srcs[k], self.src_lens[k]);
            let n_out = 1 + self.more.len();
            let mut it = taken.iter_mut().take(n_out);
            let outs: [&mut [T]; MAX_OUT] = std::array::from_fn(|_| match it.next() {
                Some(v) => &mut v[..self.dst_len],
                None => &mut [],
            });
            fused::run(p, &src, outs, self.dst_len, scratch, ctx.threads);
        }
        for (t, &d) in taken.iter_mut().zip(std::iter::once(&self.dst).chain(&self.more)) {
            bufs[d] = std::mem::take(t);
        }
    }
}

/// Dispatches one kernel (all but fused ones).
fn run_kernel<'a, T: Element>(
    kernel: &Kernel,
    src: &dyn Fn(usize) -> &'a [T],
    y: &mut [T],
    ctx: Ctx,
) {
    let t = ctx.threads;
    match kernel {
        Kernel::Fused(_) => unreachable!("fused kernels run through execute_fused"),
        Kernel::Dot(p) => matmul::dot(p, src(0), src(1), y, t),
        Kernel::Copy => y.copy_from_slice(src(0)),
        Kernel::Gather(p) => layout::strided_copy(p, src(0), y),
        Kernel::Transpose2(p) => layout::transpose2(p, src(0), y),
        Kernel::Pad(p) => {
            y.fill(T::zero());
            layout::strided_copy(p, src(0), y);
        }
        Kernel::Concat(parts) => {
            for (k, p) in parts.iter().enumerate() {
                layout::strided_copy(p, src(k), y);
            }
        }
        Kernel::Reduce(kind, p) => reduce::reduce(*kind, p, src(0), y),
        Kernel::Reference(r) => {
            let operands: Vec<Operand<'_, T>> = r
                .in_shapes
                .iter()
                .enumerate()
                .map(|(k, s)| Operand { shape: s, data: src(k) })
                .collect();
            r.op.reference_kernel(&operands, &r.out_shape, y);
        }
    }
}
