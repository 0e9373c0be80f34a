//! Forward mode: push tangents from chosen nodes to outputs.

use super::{check_seed, same_graph};
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::graph::ancestors;

/// Jacobian-vector product: the tangents of `outputs` when each node of `primals` moves
/// along the matching entry of `tangents` (ẏ = ∂y/∂x · ẋ). Primals may be inputs or any
/// intermediate node (treated as free variables). Tangents stay symbolic zeros for nodes
/// that do not depend on the primals; an output independent of every primal gets a zero
/// constant.
pub fn jvp(outputs: &[Tensor], primals: &[Tensor], tangents: &[Tensor]) -> Result<Vec<Tensor>> {
    if primals.len() != tangents.len() {
        return Err(GraphError::Transform {
            transform: "jvp",
            message: format!("{} primals but {} tangents", primals.len(), tangents.len()),
        });
    }
    same_graph("jvp", &[outputs, primals, tangents])?;
    for (p, t) in primals.iter().zip(tangents) {
        check_seed("jvp", p, t)?;
    }
    let Some(first) = outputs.first() else { return Ok(vec![]) };
    let graph = first.graph().clone();
    let needed = ancestors(outputs);
    let mut tan: Vec<Option<Tensor>> = vec![None; needed.len()];
    for (p, t) in primals.iter().zip(tangents) {
        tan[p.id().index()] = Some(t.clone());
    }
    let start = primals.iter().map(|p| p.id().index()).min().unwrap_or(needed.len());
    for i in start..needed.len() {
        if !needed[i] || tan[i].is_some() {
            continue;
        }
        let y = graph.tensor(crate::graph::NodeId(i as u32));
        let x = y.operands();
        let t: Vec<Option<Tensor>> = x.iter().map(|xi| tan[xi.id().index()].clone()).collect();
        if t.iter().all(Option::is_none) {
            continue;
        }
        tan[i] = y.op().jvp(&x, &y, &t);
    }
    Ok(outputs
        .iter()
        .map(|o| tan[o.id().index()].clone().unwrap_or_else(|| o.zeros_like()))
        .collect())
}
