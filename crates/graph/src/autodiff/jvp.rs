//! Forward mode: push tangents from chosen nodes to outputs.

use super::{check_seed, same_graph, sweep_forward};
use crate::error::{GraphError, Result};
use crate::graph::Tensor;

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
    let seeds: Vec<Option<Tensor>> = tangents.iter().cloned().map(Some).collect();
    Ok(push_tangents(outputs, primals, &seeds)
        .into_iter()
        .zip(outputs)
        .map(|(t, o)| t.unwrap_or_else(|| o.zeros_like()))
        .collect())
}

/// The forward sweep of [`jvp`], unchecked, with symbolic zeros kept at the outputs
/// (`None`). Every primal is a free variable: a primal seeded with `None` is held fixed,
/// so its own dependence on the other primals is cut — which makes this a partial
/// derivative in one operand of an op with the others held (the forward Laplacian's
/// second partials, `laplacian.rs`).
pub(crate) fn push_tangents(
    outputs: &[Tensor],
    primals: &[Tensor],
    seeds: &[Option<Tensor>],
) -> Vec<Option<Tensor>> {
    let tangents =
        sweep_forward(outputs, primals, seeds.iter().cloned(), Option::is_some, |y, x, t| {
            y.op().jvp(x, y, t)
        });
    outputs.iter().map(|o| tangents[o.id().index()].clone()).collect()
}
