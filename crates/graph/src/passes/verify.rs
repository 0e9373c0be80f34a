//! The IR verifier: checks the invariants every transform and pass must keep.
//!
//! 1. operands precede their users (arena order is topological);
//! 2. each node's stored shape and dtype are what its op's shape rule gives;
//! 3. no two nodes are the same `(op, operands)` (hash-consing held);
//! 4. input nodes are listed once, at the index their op records.

use std::collections::HashSet;

use crate::error::{GraphError, Result};
use crate::graph::Graph;
use crate::op::Op;

/// Checks the invariants of the module docs over the whole arena.
pub fn verify(graph: &Graph) -> Result<()> {
    let inputs = graph.inputs();
    graph.with_nodes(|nodes| {
        let mut seen = HashSet::new();
        for (i, n) in nodes.iter().enumerate() {
            let fail = |message: String| Err(GraphError::Verify { node: i, message });
            if let Some(x) = n.inputs.iter().find(|x| x.index() >= i) {
                return fail(format!("{} uses later node {}", n.op.name(), x.0));
            }
            let operands: Vec<_> = n
                .inputs
                .iter()
                .map(|x| (nodes[x.index()].shape.as_slice(), nodes[x.index()].dtype))
                .collect();
            match n.op.infer(&operands) {
                Ok((s, d)) if s == n.shape && d == n.dtype => {}
                Ok((s, d)) => {
                    return fail(format!(
                        "{} stores {:?} {} but its rule gives {s:?} {d}",
                        n.op.name(),
                        n.shape,
                        n.dtype
                    ));
                }
                Err(e) => return fail(e.to_string()),
            }
            if !seen.insert((&n.op, &n.inputs)) {
                return fail(format!("duplicate {} node (hash-consing broken)", n.op.name()));
            }
            if let Op::Input { index, .. } = n.op
                && inputs.get(index).map(|(_, t)| t.id().index()) != Some(i)
            {
                return fail(format!("input index {index} is not registered for this node"));
            }
        }
        Ok(())
    })
}
