//! Sums of matrix products accumulated in place.
//!
//! Reverse mode sums a weight's gradient over every use of the weight, W̄ = Σᵢ aᵢᵀ·ȳᵢ: a
//! sliced SM-VR step of an MLP has four terms per layer (the primal and tangent passes and
//! their reverse passes). Lowered as written, every product fills a buffer the size of W
//! and an elementwise kernel adds them up: k products, k − 1 extra buffers of W's size and
//! a pass that reads them all back from memory (6–7% of a G4 step, profiled). Instead the
//! first product writes the sum's buffer and every other one adds into it (the GEMM's
//! `C += A·B`, [`DotPlan::accumulate`](crate::kernels::matmul::DotPlan)); the `add` nodes
//! run nothing.
//!
//! A sum qualifies when it is a tree of `add` nodes whose leaves are two or more `dot`
//! nodes, all of the sum's shape, where every leaf and every inner `add` is read by its
//! parent alone and is not a program output. This does not depend on
//! [`CompileOptions::fuse`](crate::CompileOptions): the sum runs the same with fusion on
//! or off. Results differ from the written order of additions only in rounding.

use scorematch_graph::{BinaryOp, Node, Op};

/// Which nodes form sums of products accumulated in place.
#[derive(Debug, Clone)]
pub(crate) struct Accumulation {
    /// For a `dot` leaf or an `add` node of a qualifying sum: the sum's root `add`.
    pub sum_of: Vec<Option<usize>>,
}

impl Accumulation {
    /// Whether node `i` is an `add` of a sum (lowered to nothing).
    pub(crate) fn is_sum_add(&self, nodes: &[Node], i: usize) -> bool {
        self.sum_of[i].is_some() && is_add(&nodes[i])
    }
}

fn is_add(node: &Node) -> bool {
    matches!(node.op, Op::Binary(BinaryOp::Add))
}

/// Finds the qualifying sums among the `needed` nodes; `outputs` are the program's output
/// nodes. Outer sums are tried first (arena order reversed), so a sum is taken whole.
pub(crate) fn analyze(nodes: &[Node], needed: &[bool], outputs: &[usize]) -> Accumulation {
    let n = nodes.len();
    let mut readers = vec![0usize; n];
    for i in (0..n).filter(|&i| needed[i]) {
        for x in &nodes[i].inputs {
            readers[x.index()] += 1;
        }
    }
    for &o in outputs {
        // An output is read by the caller: never a leaf or an inner add.
        readers[o] += 2;
    }
    let mut sum_of = vec![None; n];
    for root in (0..n).rev() {
        if !(needed[root] && is_add(&nodes[root]) && sum_of[root].is_none()) {
            continue;
        }
        let shape = &nodes[root].shape;
        let (mut members, mut leaves, mut stack) = (vec![root], 0usize, vec![root]);
        let mut whole = true;
        while let Some(a) = stack.pop() {
            for x in nodes[a].inputs.iter().map(|x| x.index()) {
                let only_here = readers[x] == 1 && nodes[x].shape == *shape;
                if only_here && is_add(&nodes[x]) {
                    stack.push(x);
                } else if only_here && matches!(nodes[x].op, Op::Dot) {
                    leaves += 1;
                } else {
                    whole = false;
                }
                members.push(x);
            }
        }
        if whole && leaves >= 2 {
            for m in members {
                sum_of[m] = Some(root);
            }
        }
    }
    Accumulation { sum_of }
}
