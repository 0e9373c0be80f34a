//! Issue 7: with several threads a batch runs as slices, one compiled program per slice,
//! whose losses and gradients are summed in a fixed order. The sums equal the one-program
//! (one-thread) result up to the order of floating-point sums, repeat bit for bit, and
//! each row sees the same keyed noise split or not.

#![allow(clippy::unwrap_used)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::model::{
    Activation, Field, MlpEnergy, MlpScore, Model, NoiseConditionalScore, ParamSpec,
};
use scorematch::objective::{Objective, Projection};
use scorematch::rng::Stream;
use scorematch::train::CompiledLoss;
use scorematch_graph::Tensor;

/// Loss and gradients of `objective` at one keyed noise draw, on `threads` threads, with
/// the number of slices the batch ran as.
fn evaluate(
    model: &dyn Model,
    objective: &Objective,
    batch: usize,
    with_grad: bool,
    threads: usize,
) -> (f64, Vec<Vec<f64>>, usize) {
    let mut rng = StdRng::seed_from_u64(7);
    let params: Vec<Vec<f64>> =
        model.param_specs().iter().map(|s| s.initialize(&mut rng)).collect();
    let x: Vec<f64> = (0..batch * model.dim()).map(|i| (i as f64 * 0.731).sin() * 1.3).collect();
    let mut loss = CompiledLoss::<f64>::new(model, objective, batch, with_grad, threads).unwrap();
    loss.draw_noise_keyed(Stream::Noise, 11, 3, 0);
    let value = loss.evaluate(&params, &x).unwrap();
    let grads =
        (0..params.len()).map_while(|i| loss.grad(i).map(<[f64]>::to_vec)).collect::<Vec<_>>();
    // A second evaluation of the same draw gives the same bits.
    assert_eq!(loss.evaluate(&params, &x).unwrap().to_bits(), value.to_bits());
    for (i, g) in grads.iter().enumerate() {
        assert!(loss.grad(i).unwrap().iter().zip(g).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    (value, grads, loss.slices())
}

/// Split over `threads` threads (into `slices`) against one thread: equal to 1e-12.
fn check(model: &dyn Model, objective: &Objective, batch: usize, with_grad: bool, slices: usize) {
    let (one, g1, s1) = evaluate(model, objective, batch, with_grad, 1);
    let (split, g2, s2) = evaluate(model, objective, batch, with_grad, slices);
    assert_eq!((s1, s2), (1, slices), "{objective:?}: the batch ran as {s2} slices");
    assert!(one.is_finite() && (one - split).abs() <= 1e-12 * one.abs().max(1.0), "{one} {split}");
    assert_eq!(g1.len(), g2.len());
    assert_eq!(g1.is_empty(), !with_grad);
    for (a, b) in g1.iter().zip(&g2) {
        let scale = a.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-12 * scale, "{objective:?}: gradient off by {worst} (scale {scale})");
    }
}

fn energy(dim: usize, width: usize) -> MlpEnergy {
    MlpEnergy {
        dim,
        hidden: vec![width, width],
        activation: Activation::Softplus,
        base_sigma: Some(2.0),
    }
}

#[test]
fn sliced_sm_with_replicated_projections_splits_into_unequal_slices() {
    // 2 projections: each slice takes its rows of both copies of v; 101 rows = 51 + 50.
    let objective = Objective::Ssm { projection: Projection::Rademacher, n_projections: 2 };
    check(&energy(4, 96), &objective, 101, true, 2);
    check(&energy(4, 96), &objective, 101, true, 3);
}

#[test]
fn exact_sm_and_multi_scale_dsm_split_like_the_whole_batch() {
    // Two chunks of directions (the second padded) inside each slice.
    check(&energy(3, 96), &Objective::Esm { chunk: Some(2) }, 64, true, 2);
    let ncsn =
        NoiseConditionalScore { dim: 3, hidden: vec![128, 128], activation: Activation::Swish };
    let objective = Objective::MsDsm { sigma_min: 0.1, sigma_max: 2.0, levels: 5 };
    check(&ncsn, &objective, 160, true, 2);
}

#[test]
fn a_loss_without_gradients_splits_too() {
    let score = MlpScore { dim: 5, hidden: vec![256, 256], activation: Activation::Tanh };
    check(&score, &Objective::Dsm { sigma: 0.3 }, 128, false, 2);
}

/// A model that says its rows are coupled: never split.
#[derive(Debug)]
struct Coupled(MlpEnergy);

impl Model for Coupled {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn param_specs(&self) -> Vec<ParamSpec> {
        self.0.param_specs()
    }
    fn field(
        &self,
        params: &[Tensor],
        x: &Tensor,
        sigma: Option<&Tensor>,
    ) -> scorematch::Result<Field> {
        self.0.field(params, x, sigma)
    }
    fn rows_independent(&self) -> bool {
        false
    }
}

#[test]
fn small_steps_and_coupled_rows_stay_in_one_program() {
    let objective = Objective::SsmVr { projection: Projection::Gaussian, n_projections: 1 };
    let coupled = Coupled(energy(4, 96));
    let loss = CompiledLoss::<f64>::new(&coupled, &objective, 101, true, 2).unwrap();
    assert_eq!(loss.slices(), 1);
    // A step far below MIN_SLICE_FLOPS runs on one thread.
    let tiny = CompiledLoss::<f64>::new(&energy(2, 4), &objective, 8, true, 2).unwrap();
    assert!(tiny.flops() < scorematch::train::MIN_SLICE_FLOPS);
    assert_eq!(tiny.slices(), 1);
}

#[test]
fn wide_networks_split_their_products_instead_of_the_batch() {
    use scorematch::train::WIDE_ROW_FLOPS;
    let dsm = Objective::Dsm { sigma: 0.1 };
    let wide = MlpEnergy {
        dim: 64,
        hidden: vec![1024, 1024, 1024],
        activation: Activation::Softplus,
        base_sigma: None,
    };
    let loss = CompiledLoss::<f32>::new(&wide, &dsm, 16, true, 2).unwrap();
    assert!(loss.flops() / 16 >= WIDE_ROW_FLOPS, "{} FLOP per row", loss.flops() / 16);
    assert_eq!(loss.slices(), 1, "a wide network keeps the batch whole");
    // Sixteen projections make a row sixteen times the work, but the products only taller.
    let narrow = energy(16, 256);
    let ssm = Objective::Ssm { projection: Projection::Rademacher, n_projections: 16 };
    let loss = CompiledLoss::<f32>::new(&narrow, &ssm, 64, true, 2).unwrap();
    assert!(loss.flops() / 64 >= WIDE_ROW_FLOPS, "{} FLOP per row", loss.flops() / 64);
    assert_eq!(loss.slices(), 2, "replicated rows of a narrow network are still split");
}
