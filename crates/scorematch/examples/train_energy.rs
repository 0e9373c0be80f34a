//! Train an MLP energy by variance-reduced sliced score matching on eight Gaussians and
//! report the fitted density's KL divergence from the truth (grid quadrature).
//!
//! `cargo run --release -p scorematch --example train_energy`

use scorematch::data::ToyDensity;
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::train::{Control, TrainConfig, fit};

fn main() -> scorematch::Result<()> {
    let toy = ToyDensity::from_name("eight-gaussians")?;
    let data = toy.sample_seeded(20_000, 1);
    let config = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![64, 64],
        activation: Activation::Softplus,
        base_sigma: Some(4.0),
    });
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let mut params: Vec<Vec<f32>> = config
        .init_params(&mut rng)
        .into_iter()
        .map(|p| p.into_iter().map(|v| v as f32).collect())
        .collect();
    let objective = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
    let train = TrainConfig { steps: 2000, batch_size: 256, lr: 3e-3, ..TrainConfig::default() };
    let report = fit(config.model(), &objective, &data, None, &train, &mut params, &mut |m| {
        if m.step % 200 == 0 {
            println!("step {:5}  loss {:+.4}  {:.0} steps/s", m.step, m.loss, m.steps_per_sec);
        }
        Control::Continue
    })?;
    println!("{:?} after {} steps in {:.2} s", report.stop, report.steps_done, report.seconds);
    Ok(())
}
