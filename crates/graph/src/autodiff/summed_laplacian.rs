//! The summed Laplacian of an output with its gradient: c forward tangents and one reverse
//! sweep, in place of the forward Laplacian's second-order sweep.
//!
//! ## The maths
//!
//! For F = Σ y (every element of an output y) and seed directions e_1 … e_c, the forward
//! Laplacian (`laplacian.rs`) carries at every node n its partial Laplacian
//! L_n = Σ_k e_kᵀ∇²n e_k, which obeys
//!
//! L_n = Σᵢ ∂ᵢF_n · L_{xᵢ} + Q_n,
//!
//! the first term the op's first derivative applied to its operands' Laplacians, the
//! second its **curvature source** Q_n, the part built from the tangents alone (φ″(z) Σ_k
//! J_z,k² for φ(z), 2 Σ_k J_a,k J_b,k for a product a·b, …; zero for linear ops). The map
//! from the sources to L_F is therefore the graph's own linearisation, and its transpose
//! is reverse mode:
//!
//! Σ_k e_kᵀ∇²F e_k = Σ_n ⟨∂F/∂n, Q_n⟩,
//!
//! with ∂F/∂n the adjoints of one reverse sweep from F — the sweep that also gives ∇F.
//!
//! ## Why
//!
//! A loss that needs both the gradient and a Laplacian — sliced SM-VR's vᵀ∇²f v + ½‖∇f‖²
//! — costs with the forward Laplacian a primal, a tangent, a second-order and a reverse
//! sweep (an MLP layer: four products), and with a Hessian-vector product
//! (forward-over-reverse) a primal, a reverse and the tangents of both (four as well).
//! Here the second-order sweep is replaced by the reverse sweep the gradient needs anyway:
//! a primal, a tangent and a reverse sweep, three products per layer, and a quarter fewer
//! again in the training gradient, which differentiates all of them once more.
//!
//! The sources come from the forward Laplacian's own rules run with no incoming Laplacian
//! (`laplacian::rule`), so every op that has a forward-Laplacian rule has this one; the
//! tests check one against the other.

use super::laplacian::{Slot, check_directions, rule};
use super::{same_graph, sweep_forward, vjp};
use crate::error::{GraphError, Result};
use crate::graph::Tensor;

/// Σ_k e_kᵀ∇²F e_k for F = Σ y, with ∇F.
#[derive(Debug, Clone)]
pub struct SummedLaplacian {
    /// Σ_k e_kᵀ∇²F e_k over the c directions: a scalar (shape `[]`).
    pub laplacian: Tensor,
    /// ∂F/∂p for every primal p, shaped like it.
    pub grads: Vec<Tensor>,
}

/// The Laplacian along `directions`, summed over every element of `output`, and the
/// gradient of that sum in each primal, by c forward tangents and one reverse sweep (see
/// the module docs). `directions[i]` holds primal i's components of the c directions,
/// shape (c, …shape(primals\[i\])), as for [`crate::laplacian`]. For a batch whose rows do
/// not interact and an output of one value per row, seed directions (c, B, D) give
/// Σ_b Σ_k e_kᵀ∇²y_b e_k and every row's ∇y_b.
pub fn summed_laplacian(
    output: &Tensor,
    primals: &[Tensor],
    directions: &[Tensor],
) -> Result<SummedLaplacian> {
    let c = check_directions("summed_laplacian", primals, directions)?;
    same_graph("summed_laplacian", &[std::slice::from_ref(output), primals, directions])?;
    if primals.is_empty() {
        return Err(GraphError::Transform {
            transform: "summed_laplacian",
            message: "no primals to differentiate in".into(),
        });
    }
    // Forward: tangents only, collecting every node's curvature source.
    let mut sources: Vec<(Tensor, Tensor)> = Vec::new();
    let seeds = directions.iter().cloned().map(Some);
    sweep_forward(
        std::slice::from_ref(output),
        primals,
        seeds,
        Option::is_some,
        |y, x, tangents| {
            let ins: Vec<Slot> = tangents.iter().map(|t| Slot { j: t.clone(), l: None }).collect();
            let jet = rule(&y.op(), x, y, &ins, c);
            if let Some(q) = jet.l {
                sources.push((y.clone(), q));
            }
            jet.j
        },
    );
    // Reverse: one sweep from F gives the gradient and every source's adjoint.
    let wrt: Vec<Tensor> =
        primals.iter().cloned().chain(sources.iter().map(|(n, _)| n.clone())).collect();
    let mut adjoints = vjp(std::slice::from_ref(output), &[output.ones_like()], &wrt)?;
    let at_sources = adjoints.split_off(primals.len());
    let laplacian = sources
        .iter()
        .zip(at_sources)
        .map(|((_, q), a)| (a * q).sum_all())
        .reduce(|s, t| s + t)
        .unwrap_or_else(|| output.graph().constant(0.0, &[], output.dtype()));
    Ok(SummedLaplacian { laplacian, grads: adjoints })
}
