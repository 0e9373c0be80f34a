//! An MLP energy trained by variance-reduced sliced score matching on eight Gaussians:
//! its density, normalised by grid quadrature, is close to the truth in KL divergence.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::data::ToyDensity;
use scorematch::eval::{Bounds, Grid, density_grid_model};
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::Schedule;
use scorematch::train::{Control, TrainConfig, fit};

/// KL(p_true ‖ q) = ∫ p log(p/q) by the midpoint rule on the grid's cells, where the true
/// density keeps all but ~1e-9 of its mass inside the box.
fn kl_from_truth(toy: ToyDensity, grid: &Grid) -> f64 {
    let (lo, hi) = (&grid.bounds.lo, &grid.bounds.hi);
    let (dx, dy) = ((hi[0] - lo[0]) / grid.nx as f64, (hi[1] - lo[1]) / grid.ny as f64);
    let mut kl = 0.0;
    for j in 0..grid.ny {
        for i in 0..grid.nx {
            let c = [lo[0] + (i as f64 + 0.5) * dx, lo[1] + (j as f64 + 0.5) * dy];
            let lp = toy.log_density(&c).expect("eight gaussians has a closed form");
            let q = grid.values[j * grid.nx + i].max(f64::MIN_POSITIVE);
            kl += lp.exp() * (lp - q.ln()) * dx * dy;
        }
    }
    kl
}

#[test]
fn sliced_sm_energy_on_eight_gaussians_is_close_to_the_truth_in_kl() {
    let toy = ToyDensity::EightGaussians;
    let data = toy.sample_seeded(20_000, 4);
    let config = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![64, 64],
        activation: Activation::Softplus,
        base_sigma: Some(4.0),
    });
    let mut params = config.init_params(&mut StdRng::seed_from_u64(0));
    let bounds = Bounds::new(vec![-5.0, -5.0], vec![5.0, 5.0]).unwrap();
    let kl_init = kl_from_truth(
        toy,
        &density_grid_model(config.model(), &params, &bounds, 200, 200, 1).unwrap(),
    );
    let steps = 2000;
    let train = TrainConfig {
        steps,
        batch_size: 256,
        lr: 3e-3,
        schedule: Schedule::Cosine { total_steps: steps as u64, warmup_steps: 0, min_lr: 0.0 },
        seed: 5,
        ..TrainConfig::default()
    };
    let objective = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
    fit(config.model(), &objective, &data, None, &train, &mut params, &mut |_| Control::Continue)
        .unwrap();
    let grid = density_grid_model(config.model(), &params, &bounds, 200, 200, 1).unwrap();
    let kl = kl_from_truth(toy, &grid);
    eprintln!(
        "KL(truth ‖ model): initial {kl_init:.3} nats, trained {kl:.4} nats; edge mass {:.2e}",
        grid.edge_mass
    );
    // Reference points: the best single Gaussian, N(0, 4.125·I), is ≈ 1.42 nats from the
    // truth (−H(p) − E_p log q with H(p) ≈ ln 8 + ln(2πe/8) for eight well-separated modes);
    // the untrained model is ≈ 1.56. A fit that resolves all eight modes with the right
    // widths and weights must be an order of magnitude closer (measured: 0.055 nats).
    assert!(kl < 0.12, "KL {kl} too large");
    assert!(kl < kl_init / 10.0, "training did not improve the fit: {kl_init} → {kl}");
    assert!(grid.edge_mass < 1e-3, "density leaks to the box edge: {}", grid.edge_mass);
}
