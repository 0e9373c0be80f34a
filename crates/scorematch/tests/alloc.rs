//! A training step (noise draw, loss and gradient, clipping, optimiser update) and a model
//! evaluation allocate nothing once warmed up. A counting global allocator counts the
//! allocations this thread makes while counting is on.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::model::{Activation, CompiledField, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::{OptimizerKind, clip_grad_norm};
use scorematch::train::CompiledLoss;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCS.load(Ordering::Relaxed))
}

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
