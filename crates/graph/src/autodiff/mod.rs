//! Autodiff as graph → graph transforms.
//!
//! Each primitive carries a JVP rule and a VJP rule written in primitives (`op/`), so the
//! transforms below return ordinary graph nodes, and those can be differentiated again:
//! grad of grad, grad of hvp and jvp of grad all work to any order. This is the
//! "VJP rule per op" route (tinygrad, PyTorch's `derivatives.yaml`) rather than JAX's
//! linearize-then-transpose; it is simpler and each rule sits next to its op.
//!
//! The forward Laplacian ([`laplacian`]) pushes c directional derivatives and their summed
//! second derivatives forward with the values in one sweep: exact score matching's
//! Laplacian without a reverse pass per direction (`laplacian.rs`). Where the gradient is
//! needed too, [`summed_laplacian`] gets the Laplacian of a sum from the gradient's own
//! reverse sweep instead of a second-order forward one (`summed_laplacian.rs`).
//!
//! Zeros are symbolic: a node that does not depend on the differentiated inputs has no
//! tangent (`None`), rules skip absent tangents, and no zero tensor is materialised inside
//! a transform. Only at the public boundary, for an output that does not depend on the
//! inputs at all, is a zero constant returned.

mod jvp;
mod laplacian;
mod summed_laplacian;
mod vjp;

pub use jvp::jvp;
pub use laplacian::{Jet, laplacian};
pub use summed_laplacian::{SummedLaplacian, summed_laplacian};
pub use vjp::{grad, vjp};

use crate::error::{GraphError, Result};
use crate::graph::{NodeId, Tensor, ancestors};

/// Hessian-vector product H(x)·v of a scalar `y` in `x`, forward-over-reverse:
/// jvp(∇ₓy, x, v). Costs about one gradient and one extra forward sweep, the cheapest HVP
/// per the JAX autodiff cookbook. When `y = Σ_b f(x_b)` over a batch whose rows do not
/// interact, this is the per-sample H_b·v_b for every row at once.
pub fn hvp(y: &Tensor, x: &Tensor, v: &Tensor) -> Result<Tensor> {
    let g = grad(y, std::slice::from_ref(x))?;
    let mut out = jvp(&g, std::slice::from_ref(x), std::slice::from_ref(v))?;
    Ok(out.remove(0))
}

/// The forward sweep every forward-mode transform shares: visits, in topological order,
/// each node that `outputs` need, that lies downstream of a primal and is not one, and
/// whose operands carry a value with `live` (a tangent, a jet); `step(y, operands, their
/// values)` gives its value. The primals start from `seeds` (one each), every other node
/// from `S::default()` (a symbolic zero). Returns every node's value, by node index.
pub(crate) fn sweep_forward<S: Clone + Default>(
    outputs: &[Tensor],
    primals: &[Tensor],
    seeds: impl IntoIterator<Item = S>,
    live: impl Fn(&S) -> bool,
    mut step: impl FnMut(&Tensor, &[Tensor], &[S]) -> S,
) -> Vec<S> {
    let Some(first) = outputs.first() else { return vec![] };
    let graph = first.graph().clone();
    let needed = ancestors(outputs);
    let mut values: Vec<S> = vec![S::default(); needed.len()];
    let mut seeded = vec![false; needed.len()];
    for (p, seed) in primals.iter().zip(seeds) {
        values[p.id().index()] = seed;
        seeded[p.id().index()] = true;
    }
    let start = primals.iter().map(|p| p.id().index()).min().unwrap_or(needed.len());
    for i in start..needed.len() {
        if !needed[i] || seeded[i] {
            continue;
        }
        let y = graph.tensor(NodeId(i as u32));
        let x = y.operands();
        let ins: Vec<S> = x.iter().map(|xi| values[xi.id().index()].clone()).collect();
        if ins.iter().any(&live) {
            values[i] = step(&y, &x, &ins);
        }
    }
    values
}

/// Checks that every tensor belongs to `outputs[0]`'s graph.
fn same_graph(transform: &'static str, groups: &[&[Tensor]]) -> Result<()> {
    let mut all = groups.iter().flat_map(|g| g.iter());
    if let Some(first) = all.next()
        && all.any(|t| !t.graph().same(first.graph()))
    {
        return Err(GraphError::Transform {
            transform,
            message: "tensors from different graphs".into(),
        });
    }
    Ok(())
}

/// Checks that a seed (tangent or cotangent) matches the shape and dtype of its node.
fn check_seed(transform: &'static str, node: &Tensor, seed: &Tensor) -> Result<()> {
    if node.shape() != seed.shape() || node.dtype() != seed.dtype() {
        return Err(GraphError::Transform {
            transform,
            message: format!(
                "seed of shape {:?} {} for a value of shape {:?} {}",
                seed.shape(),
                seed.dtype(),
                node.shape(),
                node.dtype()
            ),
        });
    }
    Ok(())
}
