//! Transpose sinking: a last-two-axes transpose (`mt`) whose operand can be produced
//! transposed for free is replaced by that transposed production.
//!
//! Reverse mode accumulates a weight's gradient from products written in both
//! orientations, `mt(mt(ȳ₁·a₁) + ȳ₂·a₂)` and the like, and each `mt` of an `[H, H]` or
//! `[out, in]` gradient is a full transpose pass for an executor (a fifth of a G4 step in
//! `scorematch-exec`, whose products read an `mt` operand through swapped strides for
//! free). Here `free(X)`, the transpose of X at no cost, exists when X is
//!
//! - `mt(Y)`: then it is Y;
//! - a `dot` read only here: (A·B)ᵀ = Bᵀ·Aᵀ, a product with swapped operands (whose own
//!   `mt`s cancel or are absorbed by the executor);
//! - an elementwise node read only here whose operands are uniform constants or have a
//!   free transpose: the same op over the transposed operands.
//!
//! Every needed `mt` whose operand has a free transpose is rewritten, in one rebuild
//! whose hook builds the transposed production from the images of the nodes below it.
//! When nothing applies, the outputs are returned as they are.

use super::{Site, rebuild};
use crate::error::Result;
use crate::graph::{Node, Tensor, ancestors, uniform_value};
use crate::op::Op;

/// Whether `x` has a free transpose (see the module docs); `users` counts readers.
fn free(nodes: &[Node], users: &[usize], x: usize) -> bool {
    let n = &nodes[x];
    match &n.op {
        op if op.is_matrix_transpose() => true,
        Op::Dot => users[x] == 1,
        op if op.is_elementwise() => {
            users[x] == 1
                && n.inputs.iter().all(|o| {
                    let o = o.index();
                    uniform_value(nodes, o).is_some() || free(nodes, users, o)
                })
        }
        _ => false,
    }
}

/// Sinks every `mt` of the graph of `outputs` that has a free transpose (see the module
/// docs); returns the outputs' images, or the outputs themselves when nothing applies.
pub fn sink_transposes(outputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let Some(first) = outputs.first() else { return Ok(vec![]) };
    let needed = ancestors(outputs);
    let nodes: Vec<Node> = first.graph().with_nodes(|n| n[..needed.len()].to_vec());
    let mut users = vec![0usize; nodes.len()];
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| needed[*i]) {
        for x in &n.inputs {
            users[x.index()] += 1;
        }
    }
    for o in outputs {
        users[o.id().index()] += 1;
    }
    let sink: Vec<bool> = (0..nodes.len())
        .map(|i| {
            let n = &nodes[i];
            needed[i] && n.op.is_matrix_transpose() && free(&nodes, &users, n.inputs[0].index())
        })
        .collect();
    if !sink.contains(&true) {
        return Ok(outputs.to_vec());
    }
    rebuild(outputs, &|site| {
        let i = site.id.index();
        if !sink[i] {
            return Ok(None);
        }
        transposed(&nodes, site, nodes[i].inputs[0].index()).map(Some)
    })
}

/// The image of old node `x` (copied before the node being rewritten).
fn image<'s>(site: &'s Site<'_>, x: usize) -> &'s Tensor {
    site.image(crate::graph::NodeId(x as u32)).expect("operands precede their users")
}

/// `mt` of an image, cancelling a transpose it is.
fn mt_of(t: &Tensor) -> Tensor {
    if t.op().is_matrix_transpose() { t.operands().remove(0) } else { t.mt() }
}

/// The free transpose of old node `x`, built in the new graph.
fn transposed(nodes: &[Node], site: &Site<'_>, x: usize) -> Result<Tensor> {
    let n = &nodes[x];
    let operand = |k: usize| image(site, n.inputs[k].index());
    if n.op.is_matrix_transpose() {
        return Ok(operand(0).clone());
    }
    if matches!(n.op, Op::Dot) {
        return mt_of(operand(1)).try_apply(Op::Dot, &[&mt_of(operand(0))]);
    }
    let mut shape = n.shape.clone();
    let r = shape.len();
    shape.swap(r - 2, r - 1);
    let graph = operand(0).graph().clone();
    let mut ops = Vec::with_capacity(n.inputs.len());
    for o in &n.inputs {
        ops.push(match uniform_value(nodes, o.index()) {
            Some(v) => graph.constant(v, &shape, n.dtype),
            None => transposed(nodes, site, o.index())?,
        });
    }
    let refs: Vec<&Tensor> = ops.iter().collect();
    graph.apply_tensors(n.op.clone(), &refs)
}
