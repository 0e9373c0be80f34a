//! The compiler: validates the program's inputs and outputs, optimises the graph, lowers
//! each needed node (in arena order, which is topological) to an instruction, plans the
//! buffers and materialises the constants.

use std::collections::HashMap;

use scorematch_graph::shape::numel;
use scorematch_graph::{Element, Node, NodeId, Op, Tensor, ancestors, passes};

use crate::accumulate;
use crate::error::ExecError;
use crate::fuse::{self, Fusion, Unit};
use crate::instr::{Instr, Kernel, Slot};
use crate::kernels::fused;
use crate::lower::{Lowered, lower};
use crate::plan;
use crate::program::{InputSpec, OutputSpec, Program, ProgramParts, ProgramStats};

/// Options of [`compile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// Threads the program may use: 1 runs everything on the calling thread; n > 1 runs
    /// large kernels on a rayon pool of exactly n threads (shared by the programs
    /// compiled with the same count). Must be at least 1.
    pub threads: usize,
    /// Run `scorematch_graph::passes::optimize` (simplification, constant folding, DCE)
    /// before lowering. Default `true`.
    pub optimize: bool,
    /// Fuse elementwise nodes into multi-op kernels (see the crate docs). Default `true`;
    /// off, every elementwise node is a kernel of its own (same results, bit for bit).
    pub fuse: bool,
}

impl Default for CompileOptions {
    /// One thread, optimised, fused.
    fn default() -> Self {
        CompileOptions { threads: 1, optimize: true, fuse: true }
    }
}

impl CompileOptions {
    /// The defaults with `threads` threads.
    pub fn with_threads(threads: usize) -> Self {
        CompileOptions { threads, ..Self::default() }
    }
}

/// Compiles the graph computing `outputs` from `inputs` into a [`Program`] over `T`.
///
/// `inputs` are input nodes of the outputs' graph, in the order [`Program::run`] will be
/// fed (any order, any subset that covers what the outputs need); `outputs` are any nodes
/// of the same graph. Every node must have dtype `T::DTYPE` (see [`ExecError::DType`]).
pub fn compile<T: Element>(
    inputs: &[Tensor],
    outputs: &[Tensor],
    options: &CompileOptions,
) -> Result<Program<T>, ExecError> {
    if options.threads == 0 {
        return Err(ExecError::Options("threads must be at least 1".into()));
    }
    let graph = outputs.first().or(inputs.first()).map(|t| t.graph().clone());
    let foreign =
        |g: &scorematch_graph::Graph| inputs.iter().chain(outputs).any(|t| !t.graph().same(g));
    if graph.as_ref().is_some_and(foreign) {
        return Err(ExecError::ForeignGraph);
    }
    let mut specs = Vec::with_capacity(inputs.len());
    let mut position: HashMap<usize, usize> = HashMap::new();
    for (p, t) in inputs.iter().enumerate() {
        let Op::Input { index, .. } = t.op() else {
            return Err(ExecError::NotAnInput { position: p, op: t.op().name() });
        };
        let name = t.graph().input_name(t.id()).unwrap_or_default();
        if let Some(first) = position.insert(index, p) {
            return Err(ExecError::DuplicateInput { name, first, second: p });
        }
        if t.dtype() != T::DTYPE {
            return Err(ExecError::DType {
                op: "input",
                node: t.id().index(),
                dtype: t.dtype(),
                expected: T::DTYPE,
            });
        }
        specs.push(InputSpec { name, shape: t.shape().to_vec() });
    }
    let outs = if options.optimize && !outputs.is_empty() {
        passes::optimize(outputs)?
    } else {
        outputs.to_vec()
    };
    let outs = passes::sink_transposes(&outs)?;
    let lowered = Lowering::<T>::run(&outs, &position, options.fuse)?;
    Program::new(assemble(lowered, specs, options.threads))
}

/// The result of lowering, before buffer assignment.
struct Lowering<T> {
    /// Instructions over virtual values.
    instrs: Vec<Instr>,
    /// Element count of each virtual value.
    lens: Vec<usize>,
    /// Constant values and their data.
    consts: Vec<(usize, Vec<T>)>,
    /// Output values and shapes.
    outputs: Vec<(usize, Vec<usize>)>,
    /// Counters for [`ProgramStats`].
    stats: ProgramStats,
}

impl<T: Element> Lowering<T> {
    fn run(
        outs: &[Tensor],
        position: &HashMap<usize, usize>,
        fuse: bool,
    ) -> Result<Self, ExecError> {
        let mut low = Lowering {
            instrs: Vec::new(),
            lens: Vec::new(),
            consts: Vec::new(),
            outputs: Vec::new(),
            stats: ProgramStats::default(),
        };
        let Some(first) = outs.first() else {
            return Ok(low);
        };
        let g = first.graph();
        let needed = ancestors(outs);
        let nodes: Vec<Node> = g.with_nodes(|n| n[..needed.len()].to_vec());
        for (i, node) in nodes.iter().enumerate().filter(|(i, _)| needed[*i]) {
            if node.dtype != T::DTYPE {
                return Err(ExecError::DType {
                    op: node.op.name(),
                    node: i,
                    dtype: node.dtype,
                    expected: T::DTYPE,
                });
            }
            if let Op::Input { index, .. } = &node.op
                && !position.contains_key(index)
            {
                return Err(ExecError::MissingInput {
                    name: g.input_name(NodeId(i as u32)).unwrap_or_default(),
                    shape: node.shape.clone(),
                });
            }
        }
        let absorbed = absorbable(&nodes, &needed, outs);
        let out_ids: Vec<usize> = outs.iter().map(|o| o.id().index()).collect();
        let sums = accumulate::analyze(&nodes, &needed, &out_ids);
        let apart: Vec<bool> = (0..nodes.len()).map(|i| sums.is_sum_add(&nodes, i)).collect();
        let fusion = fuse::analyze(&nodes, &needed, &out_ids, fuse, &apart);
        low.stats.aliases += fusion.seen_through;
        let mut val: Vec<Option<Slot>> = vec![None; nodes.len()];
        // The buffer each sum (by its root) accumulates in, once its first product ran.
        let mut sum_buf: Vec<Option<usize>> = vec![None; nodes.len()];
        for unit in &fusion.order {
            match *unit {
                Unit::Node(i) if apart[i] => {
                    // An add of a sum runs nothing; the root's value is the sum's buffer.
                    if sums.sum_of[i] == Some(i) {
                        val[i] = sum_buf[i].map(Slot::Buf);
                    }
                }
                Unit::Node(i) => {
                    let into = sums.sum_of[i].map(|r| &mut sum_buf[r]);
                    low.node(&nodes, i, absorbed[i], &absorbed, position, &mut val, into);
                }
                Unit::Group(k) => low.group(&nodes, &fusion, k, &mut val),
            }
        }
        for o in outs {
            let len = o.numel();
            let v = match val[o.id().index()].expect("outputs are lowered") {
                Slot::Buf(v) => v,
                input @ Slot::Input(_) => {
                    // An output that is a program input (or a reshape of one) gets its own
                    // buffer, since outputs are read from the program.
                    let v = low.new_value(len);
                    low.instrs.push(Instr {
                        kernel: Kernel::Copy,
                        srcs: vec![input],
                        src_lens: vec![len],
                        dst: v,
                        more: Vec::new(),
                        dst_len: len,
                        flops: 0,
                    });
                    v
                }
            };
            low.outputs.push((v, o.shape().to_vec()));
        }
        Ok(low)
    }

    /// Lowers one node that is not elementwise. `into` is set for a product of a sum
    /// accumulated in place: the sum's buffer once an earlier product wrote it (this one
    /// then adds into it), else empty (this one writes it and records it there).
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        nodes: &[Node],
        i: usize,
        absorbed_here: bool,
        absorbed: &[bool],
        position: &HashMap<usize, usize>,
        val: &mut [Option<Slot>],
        into: Option<&mut Option<usize>>,
    ) {
        let node = &nodes[i];
        let len = numel(&node.shape);
        match &node.op {
            Op::Input { index, .. } => val[i] = Some(Slot::Input(position[index])),
            Op::Constant { .. } | Op::Literal { .. } => {
                let mut data = vec![T::zero(); len];
                node.op.reference_kernel::<T>(&[], &node.shape, &mut data);
                let v = self.new_value(len);
                self.consts.push((v, data));
                self.stats.constants += 1;
                val[i] = Some(Slot::Buf(v));
            }
            _ if absorbed_here => self.stats.absorbed_transposes += 1,
            op => {
                let mut srcs = Vec::with_capacity(node.inputs.len());
                let mut shapes: Vec<&[usize]> = Vec::with_capacity(node.inputs.len());
                let mut transposed = Vec::with_capacity(node.inputs.len());
                for x in &node.inputs {
                    let mut x = x.index();
                    let t = absorbed[x];
                    if t {
                        x = nodes[x].inputs[0].index();
                    }
                    srcs.push(val[x].expect("operands are lowered before their users"));
                    shapes.push(&nodes[x].shape);
                    transposed.push(t);
                }
                match lower(op, &shapes, &node.shape, &transposed) {
                    Lowered::Alias => {
                        self.stats.aliases += 1;
                        val[i] = Some(srcs[0]);
                    }
                    Lowered::Emit(mut kernel) => {
                        let flops = flops(&kernel, &shapes);
                        let src_lens = shapes.iter().map(|s| numel(s)).collect();
                        let v = match (into, &mut kernel) {
                            (Some(Some(sum)), Kernel::Dot(p)) => {
                                p.accumulate = true;
                                *sum
                            }
                            (Some(first), _) => *first.insert(self.new_value(len)),
                            (None, _) => self.new_value(len),
                        };
                        self.instrs.push(Instr {
                            kernel,
                            srcs,
                            src_lens,
                            dst: v,
                            more: Vec::new(),
                            dst_len: len,
                            flops,
                        });
                        val[i] = Some(Slot::Buf(v));
                    }
                }
            }
        }
    }

    /// Lowers a fused group to one instruction writing the members read outside it.
    fn group(&mut self, nodes: &[Node], fusion: &Fusion, g: usize, val: &mut [Option<Slot>]) {
        let (plan, ins, outs) = fuse::build_plan(nodes, fusion, g);
        let members = fusion.groups[g].len();
        let len = numel(&nodes[fusion.groups[g][0]].shape);
        if members > 1 {
            self.stats.fused_nodes += members;
        }
        if outs.is_empty() {
            // Every member is recomputed where it is read: nothing to run here (its
            // FLOPs still count once).
            self.stats.flops += (members * len) as u64;
            return;
        }
        self.stats.reference_elementwise +=
            plan.ops.iter().filter(|op| fused::runs_reference::<T>(op)).count();
        let srcs: Vec<Slot> =
            ins.iter().map(|&r| val[r].expect("inputs are lowered before the group")).collect();
        let dsts: Vec<usize> = outs.iter().map(|_| self.new_value(len)).collect();
        for (&m, &v) in outs.iter().zip(&dsts) {
            val[m] = Some(Slot::Buf(v));
        }
        self.instrs.push(Instr {
            kernel: Kernel::Fused(Box::new(plan)),
            srcs,
            src_lens: ins.iter().map(|&r| numel(&nodes[r].shape)).collect(),
            dst: dsts[0],
            more: dsts[1..].to_vec(),
            dst_len: len,
            flops: (members * len) as u64,
        });
    }

    fn new_value(&mut self, len: usize) -> usize {
        self.lens.push(len);
        self.lens.len() - 1
    }
}

/// Marks the `mt` transposes that no one but `dot` reads (and that are not outputs): the
/// dots read their operand through swapped strides instead, and no transpose is emitted.
fn absorbable(nodes: &[Node], needed: &[bool], outs: &[Tensor]) -> Vec<bool> {
    let mut ok: Vec<bool> = nodes.iter().map(|n| n.op.is_matrix_transpose()).collect();
    let mut used = vec![false; nodes.len()];
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| needed[*i]) {
        for x in &n.inputs {
            used[x.index()] = true;
            if !matches!(n.op, Op::Dot) {
                ok[x.index()] = false;
            }
        }
    }
    for o in outs {
        ok[o.id().index()] = false;
    }
    for i in 0..nodes.len() {
        ok[i] &= used[i] && needed[i];
    }
    ok
}

/// Floating-point operations of one non-elementwise instruction: 2·m·k·n per product, one
/// per input element for reductions, none for layout (a fused kernel counts one per
/// element per node).
fn flops(kernel: &Kernel, ins: &[&[usize]]) -> u64 {
    match kernel {
        Kernel::Dot(p) => p.flops(),
        Kernel::Reduce(..) => numel(ins[0]) as u64,
        _ => 0,
    }
}

/// Assigns buffers, places the constants and outputs in them, and counts the statistics.
fn assemble<T: Element>(
    mut low: Lowering<T>,
    inputs: Vec<InputSpec>,
    threads: usize,
) -> ProgramParts<T> {
    let mut pinned = vec![false; low.lens.len()];
    for &(v, _) in &low.consts {
        pinned[v] = true;
    }
    for (v, _) in &low.outputs {
        pinned[*v] = true;
    }
    let consts: Vec<usize> = low.consts.iter().map(|c| c.0).collect();
    let p = plan::assign(&low.instrs, &low.lens, &consts, &pinned);
    plan::apply(&mut low.instrs, &p);
    let outputs = low
        .outputs
        .iter()
        .map(|(v, shape)| OutputSpec { buf: p.phys[*v], len: numel(shape), shape: shape.clone() })
        .collect();
    let elem = std::mem::size_of::<T>();
    let mut stats = low.stats;
    stats.instructions = low.instrs.len();
    stats.buffers = p.sizes.len();
    stats.bytes = p.sizes.iter().sum::<usize>() * elem;
    stats.live_peak_bytes = p.live_peak * elem;
    stats.values = low.lens.len();
    stats.unshared_bytes = low.lens.iter().sum::<usize>() * elem;
    stats.reference_kernels =
        low.instrs.iter().filter(|i| matches!(i.kernel, Kernel::Reference(_))).count();
    stats.flops += low.instrs.iter().map(|i| i.flops).sum::<u64>();
    let mut kinds: HashMap<&'static str, usize> = HashMap::new();
    for i in &low.instrs {
        *kinds.entry(i.kernel.name()).or_default() += 1;
    }
    stats.kernels = kinds.into_iter().collect();
    stats.kernels.sort();
    ProgramParts {
        consts: low.consts.into_iter().map(|(v, data)| (p.phys[v], data)).collect(),
        instrs: low.instrs,
        buf_sizes: p.sizes,
        inputs,
        outputs,
        threads,
        stats,
    }
}
