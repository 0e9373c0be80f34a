//! Transpose sinking: a last-two-axes transpose (`mt`) whose operand can be produced
//! transposed for free is replaced by that transposed production.
//!
//! Reverse mode accumulates a weight's gradient from products written in both
//! orientations, `mt(mt(ȳ₁·a₁) + ȳ₂·a₂)` and the like, and each `mt` of an `[H, H]` or
//! `[out, in]` gradient was a full transpose pass (a fifth of a G4 step). Here
//! `free(X)`, the transpose of X at no cost, exists when X is
//!
//! - `mt(Y)`: then it is Y;
//! - a `dot` read only here: (A·B)ᵀ = Bᵀ·Aᵀ, a product with swapped operands whose own
//!   `mt`s the lowering absorbs into the product's strides;
//! - an elementwise node read only here whose operands are uniform constants or have a
//!   free transpose: the same op over the transposed operands.
//!
//! Every needed `mt` whose operand has a free transpose is rewritten; the graph is then
//! rebuilt, as the graph crate's passes do, into a fresh graph that declares the same
//! inputs in the same order (so input positions are unchanged). When nothing applies the
//! graph is left alone.

use scorematch_graph::{Graph, Node, NodeId, Op, Tensor, ancestors};

use crate::error::ExecError;
use crate::fuse::{is_elementwise, uniform};
use crate::lower::is_mt;

/// Whether the node is a last-two-axes transpose.
fn mt_node(n: &Node) -> bool {
    matches!(&n.op, Op::Transpose { perm } if is_mt(perm))
}

/// Whether `x` has a free transpose (see the module docs); `users` counts readers.
fn free(nodes: &[Node], users: &[usize], x: usize) -> bool {
    let n = &nodes[x];
    match &n.op {
        _ if mt_node(n) => true,
        Op::Dot => users[x] == 1,
        op if is_elementwise(op) => {
            users[x] == 1
                && n.inputs.iter().all(|o| {
                    let o = o.index();
                    uniform(nodes, o).is_some() || free(nodes, users, o)
                })
        }
        _ => false,
    }
}

/// Rewrites the graph of `outs` if some `mt` can be sunk; `None` when nothing changes.
pub(crate) fn sink_transposes(outs: &[Tensor]) -> Result<Option<Vec<Tensor>>, ExecError> {
    let Some(first) = outs.first() else { return Ok(None) };
    let old = first.graph().clone();
    let needed = ancestors(outs);
    let nodes: Vec<Node> = old.with_nodes(|n| n[..needed.len()].to_vec());
    let mut users = vec![0usize; nodes.len()];
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| needed[*i]) {
        for x in &n.inputs {
            users[x.index()] += 1;
        }
    }
    for o in outs {
        users[o.id().index()] += 1;
    }
    let sink: Vec<bool> = (0..nodes.len())
        .map(|i| {
            needed[i] && mt_node(&nodes[i]) && free(&nodes, &users, nodes[i].inputs[0].index())
        })
        .collect();
    if !sink.contains(&true) {
        return Ok(None);
    }
    let new = Graph::new();
    let mut map: Vec<Option<Tensor>> = vec![None; nodes.len()];
    for (name, t) in old.inputs() {
        map[t.id().index()] = Some(new.input(&name, t.shape(), t.dtype()));
    }
    for i in 0..nodes.len() {
        if !needed[i] || map[i].is_some() {
            continue;
        }
        let image = if sink[i] {
            transposed(&nodes, &map, &new, nodes[i].inputs[0].index())?
        } else {
            let ops: Vec<&Tensor> = nodes[i].inputs.iter().map(|x| mapped(&map, x)).collect();
            new.apply_tensors(nodes[i].op.clone(), &ops)?
        };
        map[i] = Some(image);
    }
    Ok(Some(outs.iter().map(|o| mapped(&map, &o.id()).clone()).collect()))
}

fn mapped<'m>(map: &'m [Option<Tensor>], x: &NodeId) -> &'m Tensor {
    map[x.index()].as_ref().expect("operands precede their users")
}

/// `mt` of an already mapped tensor, cancelling a transpose it is.
fn mt_of(t: &Tensor) -> Tensor {
    match t.op() {
        Op::Transpose { perm } if is_mt(&perm) => t.operands().remove(0),
        _ => t.mt(),
    }
}

/// The free transpose of old node `x`, built in the new graph.
fn transposed(
    nodes: &[Node],
    map: &[Option<Tensor>],
    new: &Graph,
    x: usize,
) -> Result<Tensor, ExecError> {
    let n = &nodes[x];
    if mt_node(n) {
        return Ok(mapped(map, &n.inputs[0]).clone());
    }
    if matches!(n.op, Op::Dot) {
        let (a, b) = (mapped(map, &n.inputs[0]), mapped(map, &n.inputs[1]));
        return Ok(new.apply_tensors(Op::Dot, &[&mt_of(b), &mt_of(a)])?);
    }
    let mut shape = n.shape.clone();
    let r = shape.len();
    shape.swap(r - 2, r - 1);
    let mut ops = Vec::with_capacity(n.inputs.len());
    for o in &n.inputs {
        ops.push(match uniform(nodes, o.index()) {
            Some(v) => new.constant(v, &shape, n.dtype),
            None => transposed(nodes, map, new, o.index())?,
        });
    }
    let refs: Vec<&Tensor> = ops.iter().collect();
    Ok(new.apply_tensors(n.op.clone(), &refs)?)
}
