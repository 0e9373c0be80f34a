//! A training step (noise draw, loss and gradient, clipping, optimiser update) and a model
//! evaluation allocate nothing once warmed up. A counting global allocator counts the
//! allocations this thread makes while counting is on.

#![allow(clippy::unwrap_used)]

#[path = "../../exec/tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::count;
use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::model::{Activation, CompiledField, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::{OptimizerKind, clip_grad_norm};
use scorematch::train::CompiledLoss;

#[test]
fn a_training_step_and_a_model_evaluation_allocate_nothing() {
    let config = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 3,
        hidden: vec![32, 32],
        activation: Activation::Softplus,
        base_sigma: Some(3.0),
    });
    let model = config.model();
    let mut rng = StdRng::seed_from_u64(0);
    let mut params: Vec<Vec<f32>> = config
        .init_params(&mut rng)
        .into_iter()
        .map(|p| p.into_iter().map(|v| v as f32).collect())
        .collect();
    let batch = 64;
    let x: Vec<f32> = (0..batch * 3).map(|i| (i as f32 * 0.37).sin()).collect();
    let objective = Objective::SsmVr { projection: Projection::Sphere, n_projections: 2 };
    let mut loss = CompiledLoss::<f32>::new(model, &objective, batch, true, 1).unwrap();
    let mut optimizer = OptimizerKind::default().build::<f32>().unwrap();
    let mut grads: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut step = |params: &mut Vec<Vec<f32>>| {
        let value = loss.evaluate_with_fresh_noise(params, &x, &mut rng).unwrap();
        loss.copy_grads(&mut grads).unwrap();
        clip_grad_norm(&mut grads, 1.0).unwrap();
        optimizer.step(params, &grads, 1e-3).unwrap();
        value
    };
    step(&mut params); // the optimiser allocates its moment buffers on its first step
    let (values, allocations) = count(|| (0..5).map(|_| step(&mut params)).sum::<f64>());
    assert!(values.is_finite());
    assert_eq!(allocations, 0, "a training step allocated");

    let mut field = CompiledField::<f32>::new(model, batch, 1).unwrap();
    field.run(&params, &x, None).unwrap();
    let (_, allocations) = count(|| field.run(&params, &x, None).unwrap());
    assert_eq!(allocations, 0, "a model evaluation allocated");
}
