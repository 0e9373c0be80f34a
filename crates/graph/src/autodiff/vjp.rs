//! Reverse mode: pull cotangents from outputs back to chosen nodes.

use super::{check_seed, same_graph};
use crate::error::{GraphError, Result};
use crate::graph::ancestors;
use crate::graph::{NodeId, Tensor};

/// Vector-Jacobian product: x̄ = Σ_k (∂y_k/∂x)ᵀ ȳ_k for each `wrt` node x, given output
/// cotangents `cotangents` (ȳ_k, shaped like `outputs[k]`). Only nodes that are both
/// ancestors of an output and descendants of a `wrt` node are visited; cotangents of the
/// others stay symbolic zeros. A `wrt` node no output depends on gets a zero constant.
pub fn vjp(outputs: &[Tensor], cotangents: &[Tensor], wrt: &[Tensor]) -> Result<Vec<Tensor>> {
    if outputs.len() != cotangents.len() {
        return Err(GraphError::Transform {
            transform: "vjp",
            message: format!("{} outputs but {} cotangents", outputs.len(), cotangents.len()),
        });
    }
    same_graph("vjp", &[outputs, cotangents, wrt])?;
    for (o, c) in outputs.iter().zip(cotangents) {
        check_seed("vjp", o, c)?;
    }
    let Some(first) = outputs.first() else {
        return Ok(wrt.iter().map(Tensor::zeros_like).collect());
    };
    let graph = first.graph().clone();
    let needed = ancestors(outputs);
    let n = needed.len();
    // Nodes that depend on some wrt node (forward sweep over the arena's topological order).
    let mut depends = vec![false; n];
    for w in wrt {
        depends[w.id().index()] = true;
    }
    let start = wrt.iter().map(|w| w.id().index()).min().unwrap_or(n);
    graph.with_nodes(|nodes| {
        for i in start..n {
            if !depends[i] && nodes[i].inputs.iter().any(|x| depends[x.index()]) {
                depends[i] = true;
            }
        }
    });
    let mut ct: Vec<Option<Tensor>> = vec![None; n];
    for (o, c) in outputs.iter().zip(cotangents) {
        accumulate(&mut ct[o.id().index()], c.clone());
    }
    for i in (start..n).rev() {
        if !(needed[i] && depends[i]) {
            continue;
        }
        let Some(ybar) = ct[i].clone() else { continue };
        let y = graph.tensor(NodeId(i as u32));
        let x = y.operands();
        if x.iter().all(|xi| !depends[xi.id().index()]) {
            continue;
        }
        let xbar = y.op().vjp(&x, &y, &ybar);
        for (xi, c) in x.iter().zip(xbar) {
            if let (true, Some(c)) = (depends[xi.id().index()], c) {
                accumulate(&mut ct[xi.id().index()], c);
            }
        }
    }
    Ok(wrt.iter().map(|w| ct[w.id().index()].clone().unwrap_or_else(|| w.zeros_like())).collect())
}

fn accumulate(slot: &mut Option<Tensor>, c: Tensor) {
    *slot = Some(match slot.take() {
        Some(prev) => prev + c,
        None => c,
    });
}

/// Gradient of a scalar `y` (one element) with respect to each of `wrt`: vjp with ȳ = 1.
pub fn grad(y: &Tensor, wrt: &[Tensor]) -> Result<Vec<Tensor>> {
    if y.numel() != 1 {
        return Err(GraphError::Transform {
            transform: "grad",
            message: format!("needs a scalar output, got shape {:?}; reduce it first", y.shape()),
        });
    }
    vjp(std::slice::from_ref(y), &[y.ones_like()], wrt)
}
