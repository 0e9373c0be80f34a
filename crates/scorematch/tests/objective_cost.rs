//! Issue 7: what a training step of each sliced objective costs, counted from the compiled
//! program. For an energy, sliced SM (a forward jet) and sliced SM-VR (the Laplacian by
//! the adjoints of ∇f's own sweep, `scorematch_graph::summed_laplacian`) both cost three
//! products per hidden layer forward and six in the gradient; forward-over-reverse, which
//! SM-VR used before, costs four and eight — a third more.

#![allow(clippy::unwrap_used)]

use scorematch::model::{Activation, MlpEnergy};
use scorematch::objective::{Objective, Projection};
use scorematch::train::CompiledLoss;

fn flops(objective: &Objective) -> u64 {
    let model = MlpEnergy {
        dim: 8,
        hidden: vec![64, 64, 64],
        activation: Activation::Softplus,
        base_sigma: None,
    };
    CompiledLoss::<f32>::new(&model, objective, 32, true, 1).unwrap().flops()
}

#[test]
fn sliced_sm_vr_costs_what_sliced_sm_costs() {
    let projection = Projection::Gaussian;
    let ssm = flops(&Objective::Ssm { projection, n_projections: 1 }) as f64;
    let vr = flops(&Objective::SsmVr { projection, n_projections: 1 }) as f64;
    let dsm = flops(&Objective::Dsm { sigma: 0.1 }) as f64;
    // The products of ∇f's first layer (8 wide) and the elementwise work differ a little.
    assert!(vr <= 1.05 * ssm, "sliced SM-VR {vr} FLOP against sliced SM {ssm}");
    // Denoising needs the gradient only: two thirds of either.
    assert!(dsm < 0.75 * ssm, "DSM {dsm} FLOP against sliced SM {ssm}");
}
