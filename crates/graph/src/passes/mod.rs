//! Graph passes: dead-code elimination, constant folding, algebraic simplification,
//! transpose sinking, and the IR verifier.
//!
//! Every pass is a rebuild (`rebuild`): the ancestors of the requested outputs are copied, in arena
//! order, into a fresh graph, and a rewrite hook may replace a node by another expression
//! over the already-copied nodes. This is the one rebuild loop: a pass written elsewhere
//! (the executor's, say) is a hook given to it. Copying only ancestors is dead-code elimination;
//! re-interning every node in the fresh graph re-applies CSE after rewrites merge
//! expressions. The fresh graph declares the same inputs, in the same order and with the
//! same names, whether or not they are still used, so input positions are stable.

mod fold;
mod simplify;
mod transpose;
mod verify;

pub use fold::fold_constants;
pub use simplify::simplify;
pub use transpose::sink_transposes;
pub use verify::verify;

use crate::error::Result;
use crate::graph::{Graph, NodeId, Tensor, ancestors};
use crate::op::Op;

/// What a rewrite hook sees of the node being copied: the node in the old graph, its
/// operands' images in the new graph, and the image of every node copied so far.
pub(crate) struct Site<'a> {
    /// The node's id in the old graph.
    pub(crate) id: NodeId,
    /// The node's op.
    pub(crate) op: &'a Op,
    /// Images of the node's operands, in the new graph.
    pub(crate) operands: &'a [Tensor],
    images: &'a [Option<Tensor>],
}

impl Site<'_> {
    /// The image in the new graph of old node `id`, if it was copied already (every
    /// ancestor of the node being copied was).
    pub(crate) fn image(&self, id: NodeId) -> Option<&Tensor> {
        self.images.get(id.index()).and_then(Option::as_ref)
    }
}

/// A rewrite hook: given the [`Site`] of a node, an equivalent tensor in the new graph, or
/// `None` to copy the node as it is.
pub(crate) type Rewrite<'a> = &'a dyn Fn(&Site<'_>) -> Result<Option<Tensor>>;

/// Copies the ancestors of `outputs` into a fresh graph through `rewrite`, returning the
/// outputs' images. The fresh graph declares the old graph's inputs, in order. When some
/// node was rewritten, a final plain copy drops what the rewrites left dead.
pub(crate) fn rebuild(outputs: &[Tensor], rewrite: Rewrite<'_>) -> Result<Vec<Tensor>> {
    let Some(first) = outputs.first() else { return Ok(vec![]) };
    let old = first.graph();
    if outputs.iter().any(|o| !o.graph().same(old)) {
        return Err(crate::error::GraphError::ForeignGraph("pass"));
    }
    let new = Graph::new();
    let needed = ancestors(outputs);
    let mut map: Vec<Option<Tensor>> = vec![None; needed.len()];
    let mut rewritten = false;
    for (name, t) in old.inputs() {
        map[t.id().index()] = Some(new.input(&name, t.shape(), t.dtype()));
    }
    for (i, &is_needed) in needed.iter().enumerate() {
        if !is_needed || map[i].is_some() {
            continue;
        }
        let node = old.node(NodeId(i as u32));
        let operands: Vec<Tensor> = node
            .inputs
            .iter()
            .map(|x| map[x.index()].clone().expect("operands precede their users"))
            .collect();
        let site = Site { id: NodeId(i as u32), op: &node.op, operands: &operands, images: &map };
        let image = match rewrite(&site)? {
            Some(t) => {
                rewritten = true;
                t
            }
            None => {
                let refs: Vec<&Tensor> = operands.iter().collect();
                new.apply_tensors(node.op.clone(), &refs)?
            }
        };
        map[i] = Some(image);
    }
    let images: Vec<Tensor> = outputs
        .iter()
        .map(|o| map[o.id().index()].clone().expect("outputs are their own ancestors"))
        .collect();
    // A rewritten node's operands were copied before the rewrite replaced their user, and
    // may now be dead: a plain copy (no rewrites, so no recursion) drops them.
    if rewritten { dce(&images) } else { Ok(images) }
}

/// Dead-code elimination: a fresh graph holding only the ancestors of `outputs` (and every
/// input).
pub fn dce(outputs: &[Tensor]) -> Result<Vec<Tensor>> {
    rebuild(outputs, &|_| Ok(None))
}

/// The standard pipeline: simplify, then fold constants and simplify again until nothing
/// changes (folding exposes new identities, and an identity can expose a new constant
/// subexpression, e.g. exp(x·(k − k))), with DCE implied by each rebuild. Idempotent.
pub fn optimize(outputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let mut cur = simplify(outputs)?;
    // Each round that changes something removes a non-source node, so this terminates;
    // the bound is a guard only.
    for _ in 0..64 {
        let next = simplify(&fold_constants(&cur)?)?;
        let same = match (cur.first(), next.first()) {
            (Some(a), Some(b)) => {
                a.graph().with_nodes(|x| b.graph().with_nodes(|y| x == y))
                    && cur.iter().zip(&next).all(|(p, q)| p.id() == q.id())
            }
            _ => true,
        };
        cur = next;
        if same {
            break;
        }
    }
    Ok(cur)
}
