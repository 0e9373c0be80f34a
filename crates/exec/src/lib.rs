//! # scorematch-exec: a graph compiled into a CPU program
//!
//! [`compile`] turns the `scorematch-graph` nodes computing some outputs from some inputs
//! into a [`Program`]: a flat list of kernel instructions over preallocated buffers.
//! [`Program::run`] executes it; [`Program::output`] reads the results. The reference
//! interpreter (`scorematch_graph::evaluate`) defines what a program computes; this crate
//! is about computing it fast, and is tested against it.
//!
//! ```
//! use scorematch_exec::{CompileOptions, compile};
//! use scorematch_graph::{DType, Graph};
//! let g = Graph::new();
//! let x = g.input("x", &[2, 3], DType::F64);
//! let w = g.input("w", &[3, 2], DType::F64);
//! let y = x.matmul(&w).tanh().sum_all();
//! let mut p = compile::<f64>(&[x, w], &[y], &CompileOptions::default()).unwrap();
//! p.run(&[&[1., 2., 3., 4., 5., 6.], &[0.1, 0.0, 0.0, 0.1, 0.0, 0.0]]).unwrap();
//! let want = 0.1f64.tanh() + 0.2f64.tanh() + 0.4f64.tanh() + 0.5f64.tanh();
//! assert!((p.output(0)[0] - want).abs() < 1e-15);
//! ```
//!
//! ## Guarantees
//!
//! - **Fixed shapes.** A program is compiled for the static shapes of its graph; another
//!   batch size is another program (cache programs by input shape).
//! - **No per-run allocation, no graph walk.** Everything is decided at compile time:
//!   the schedule, every kernel's parameters, the buffers. `run` checks the feed lengths
//!   and walks the instruction list. Inputs are read in place from the caller's slices
//!   (never copied); outputs are read from the program's buffers, which stay at the same
//!   addresses across runs (fused kernels keep their registers in a scratch area
//!   allocated with the program). The exceptions: with `threads > 1`, rayon's scheduler
//!   may allocate internally; and the reference-kernel fallback (below) allocates index
//!   scratch inside the graph crate's kernels — [`ProgramStats::reference_kernels`] says
//!   whether a program has any (none for the current ops below rank 9; elementwise ops
//!   that fall back allocate nothing).
//! - **`Send`, self-contained.** A program owns its data and holds nothing of the graph.
//! - **One element type.** `T` is `f32` or `f64`, and every node must have dtype
//!   `T::DTYPE`; a `convert` to the same dtype is a no-op. Mixed precision is out of
//!   scope: a graph mixing dtypes is rejected with [`ExecError::DType`] naming the node.
//!
//! ## Compilation
//!
//! 1. **Optimise** ([`CompileOptions::optimize`], default on): `passes::optimize`
//!    (simplify, fold constants, simplify again, DCE). It rebuilds the graph but keeps the
//!    input declarations and their `Op::Input { index }`, through which the caller's
//!    inputs are mapped to feed positions.
//! 2. **Sink transposes** (`passes::sink_transposes`, a graph pass): a last-two-axes
//!    transpose (`mt`) of a product read only there becomes the product with swapped
//!    operands, (A·B)ᵀ = Bᵀ·Aᵀ, and an `mt` of an elementwise node moves onto its operands
//!    when they can all be transposed that way (or are transposes, which cancel). Reverse
//!    mode accumulates weight gradients in both orientations (`mt(mt(ȳ·a) + ȳ'·a')`); each
//!    such `mt` was a full transpose pass, a fifth of a G4 step. Like every pass it is a
//!    hook on the graph crate's one rebuild loop; this crate rebuilds no graph itself.
//! 3. **Fuse** (`fuse.rs`): elementwise nodes (`Op::is_elementwise`: unary, binary,
//!    compare, select) are grouped
//!    by *level* (a non-elementwise node is one level above its operands) and element
//!    count, so a group can run as one kernel; a node whose readers all sit in one later
//!    group sinks into it, and cheap values (negations, products, masks…) read by later
//!    groups are recomputed there from what those groups read anyway instead of being
//!    stored (`Op::is_cheap`). Each group becomes one `kernels::fused` register program that writes only
//!    the members read outside the group. Uniform constants (`x * 0.5` builds a full-size
//!    `Constant`) become registers filled once per call and are never materialised when
//!    only fused kernels read them. [`CompileOptions::fuse`] off gives one kernel per
//!    elementwise node, bit-identical results.
//! 4. **Schedule**: the groups and the other needed nodes in a topological order of the
//!    condensed graph that follows arena order (a group runs where its last member was).
//! 5. **Lower** each node to an instruction, with fast paths (see `kernels`): `dot`
//!    through faer; one strided-copy engine for broadcast (so `[1, n] → [m, n]` is m row
//!    copies and `[m, 1] → [m, n]` m fills), transpose, slice, pad and concat, with a
//!    cache-blocked 2-D transpose; reductions as `[outer, reduced, inner]` blocks. Some
//!    nodes need no instruction: reshape, stop_gradient and same-dtype convert (and layout
//!    ops that move nothing) are **zero-copy aliases** of their operand — always, since
//!    the buffer plan keeps an aliased buffer alive as long as any alias of it is read. A
//!    last-two-axes transpose read only by `dot` is **absorbed**: the product reads the
//!    untransposed value through swapped strides (reverse mode emits `ȳ·bᵀ` and `aᵀ·ȳ`
//!    for every product). Constants and literals are **materialised once**, at compile
//!    time, in buffers of their own that runs never overwrite. A **sum of products**
//!    (a tree of `add`s over two or more `dot`s read nowhere else, as reverse mode builds
//!    for a weight used several times) runs as its products only, the first writing the
//!    sum's buffer and the others adding into it (`C += A·B`; `accumulate.rs`): no add
//!    pass, no buffer per product.
//! 6. **Plan buffers** (`plan.rs`): liveness gives each value's last use; a buffer is
//!    released after it and reused, best fit, by a later value of equal or smaller size
//!    (or grown, when no free buffer is large enough). Inputs are the caller's and outputs
//!    keep their buffers to the end.
//!
//! The instruction set (`instr.rs`) is an enum of kernel variants with a uniform
//! read-slots/write-buffers contract (a fused kernel may write several buffers). Files, each
//! importing only those after it: `compile.rs` (driver, input mapping, lowering loop,
//! assembly), `accumulate.rs` (sums of products), `fuse.rs` (groups, schedule, register
//! programs), `lower.rs` (kernel
//! selection), `plan.rs` (liveness and reuse), `program.rs` (the run loop), `instr.rs`
//! (the instruction set), `kernels/` (fused, fast `f32` math, matmul, layout, reduce).
//! What an op is — elementwise, a view, cheap, a matrix transpose — the graph crate says
//! (`Op::is_*`); this crate keeps no op lists of its own beyond its fast kernels.
//!
//! ## Numerics
//!
//! Every kernel computes what the reference interpreter computes, to rounding: products
//! and sums may associate differently, and the fast `f32` kernels of `kernels/fastmath.rs`
//! are vectorisable polynomial versions whose error bounds (a few ulp) are stated and
//! tested there (libm's are scalar calls, and a softplus MLP's derivatives call them
//! several times per hidden unit).
//! Fusion itself changes no result: a fused program is bit-identical to the unfused one.
//! A sum of products accumulated in place adds in another order than written (rounding
//! only), with fusion on or off alike.
//!
//! ## Profiles
//!
//! [`Program::profile`] runs a program and times every instruction ([`InstrProfile`]: the
//! kernel, a product's shape, FLOPs, mean time per run); `scorematch bench --profile N`
//! prints it per kernel kind and slowest first. Profiles, not guesses, chose the work
//! above: on this project's Xeon a softplus MLP step spent 13–38% of its time in fused
//! elementwise kernels (softplus and sigmoid left scalar by the compiler) and 4–7% adding
//! the products of weight gradients.
//!
//! ## Threads
//!
//! [`CompileOptions::threads`] = 1 runs everything on the calling thread. With n > 1, a
//! run executes on a rayon pool of exactly n threads (one pool per thread count, shared by
//! programs), and only large kernels fan out: fused kernels of at least
//! [`PAR_MIN_ELEMS`] element-ops (elements × ops), split into one contiguous range per
//! thread, and matrix products of at least [`PAR_MIN_MNK`] multiply-adds with every
//! dimension at least [`PAR_MIN_DIM`]. Smaller products stay sequential (DESIGN §8: two
//! threads pay off only on large shapes, and a k = 2 product on two threads collapses to a
//! few GFLOP/s); a batch of small products is split by batch entry instead.
//! Fused kernels run the widest build of their loops the CPU has (AVX-512, AVX2 or the
//! baseline; detected at run time). [`thread_pool`] hands out the same pools, so a caller that runs several
//! single-threaded programs side by side (the `scorematch` crate splits a batch into
//! slices, each its own program) shares these workers instead of competing with a second
//! pool.
//!
//! ## The reference-kernel fallback
//!
//! Any op without a fast kernel runs the graph crate's reference kernel — by design
//! (DESIGN §3): a new primitive works in compiled programs the moment it has a reference
//! kernel, and gets a fast one when profiling asks.
//!
//! - **Elementwise ops** run inside fused kernels, one loop per op over each chunk: the
//!   fast kernel where `kernels/fastmath.rs` registers one for the element type (only
//!   `f32` ones so far), else the op's reference kernel over the chunk
//!   (`UnaryOp::map`, `BinaryOp::map`, `CmpOp::map`, `select_map`: the op matched once, a
//!   monomorphic loop the compiler vectorises where the op allows; no allocation).
//!   [`ProgramStats::reference_elementwise`] counts the ops a program runs that way.
//! - **Other ops** without a fast path become a reference instruction calling `Op::reference_kernel` ([`ProgramStats::reference_kernels`]):
//!   today only layout ops and reductions whose collapsed iteration space exceeds
//!   [`MAX_RANK`] axes.

mod accumulate;
mod compile;
mod denormals;
mod error;
mod fuse;
mod instr;
mod kernels;
mod lower;
mod plan;
mod program;

pub use compile::{CompileOptions, compile};
pub use error::ExecError;
pub use kernels::PAR_MIN_ELEMS;
pub use kernels::layout::MAX_RANK;
pub use kernels::matmul::{PAR_MIN_DIM, PAR_MIN_MNK};
pub use program::{InputSpec, InstrProfile, Program, ProgramStats, on_pool, thread_pool};
