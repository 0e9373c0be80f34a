//! A run stopped after any step and restored from its state ends bit for bit where the run
//! that never stopped ends, for every optimiser and both precisions; the state survives a
//! checkpoint round trip.

#![allow(clippy::unwrap_used)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::data::{Dataset, ToyDensity};
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::OptimizerKind;
use scorematch::saved::SavedModel;
use scorematch::train::{TrainConfig, TrainState, Trainer};
use scorematch_graph::{DType, Element};

fn mlp() -> ModelConfig {
    ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![16, 16],
        activation: Activation::Softplus,
        base_sigma: Some(3.0),
    })
}

fn init<T: Element>() -> Vec<Vec<T>> {
    mlp()
        .init_params(&mut StdRng::seed_from_u64(4))
        .into_iter()
        .map(|p| p.into_iter().map(T::from_f64).collect())
        .collect()
}

fn bits<T: Element>(p: &[Vec<T>]) -> Vec<u64> {
    p.iter().flatten().map(|&v| Element::to_f64(v).to_bits()).collect()
}

/// Runs `config` from the initial parameters, stopping after `stop_at` steps to take the
/// state and restore it into a fresh trainer (`None`: never stopped). Returns the final
/// parameters, the kept ones and the validation losses seen.
fn run<T: Element>(
    objective: &Objective,
    data: &Dataset,
    val: &Dataset,
    config: &TrainConfig,
    stop_at: Option<usize>,
) -> (Vec<u64>, Vec<u64>, Vec<f64>) {
    let model = mlp();
    let mut trainer =
        Trainer::new(model.model(), objective, data, Some(val), config, init::<T>()).unwrap();
    let mut val_losses = Vec::new();
    if let Some(k) = stop_at {
        for _ in 0..k {
            val_losses.extend(trainer.step().unwrap().unwrap().val_loss);
        }
        let (state, params): (TrainState, Vec<Vec<T>>) =
            (trainer.state(), trainer.params().to_vec());
        drop(trainer);
        trainer = Trainer::new(model.model(), objective, data, Some(val), config, params).unwrap();
        trainer.restore(&state).unwrap();
    }
    while let Some(m) = trainer.step().unwrap() {
        val_losses.extend(m.val_loss);
    }
    (bits(trainer.params()), bits(trainer.kept().1), val_losses)
}

#[test]
fn a_restored_run_ends_bit_for_bit_where_the_uninterrupted_one_ends() {
    let data = ToyDensity::TwoMoons.sample_seeded(700, 1);
    let val = ToyDensity::TwoMoons.sample_seeded(200, 2);
    let optimizers = [
        OptimizerKind::default(),
        OptimizerKind::adamw(),
        OptimizerKind::Sgd { momentum: 0.9, dampening: 0.0, nesterov: true, weight_decay: 1e-3 },
    ];
    let objectives = [
        Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 },
        Objective::Dsm { sigma: 0.1 },
    ];
    for (i, optimizer) in optimizers.into_iter().enumerate() {
        let objective = &objectives[i % 2];
        // 700 rows in batches of 64: epochs of 10 steps, so stops fall inside an epoch.
        let config = TrainConfig {
            steps: 47,
            batch_size: 64,
            lr: 1e-2,
            optimizer,
            eval_every: 5,
            patience: Some(50),
            seed: 8,
            ..TrainConfig::default()
        };
        let whole = run::<f32>(objective, &data, &val, &config, None);
        for stop in [1, 13, 20, 46] {
            assert_eq!(
                run::<f32>(objective, &data, &val, &config, Some(stop)),
                whole,
                "optimiser {i}, f32, stopped after {stop}"
            );
        }
        let whole = run::<f64>(objective, &data, &val, &config, None);
        assert_eq!(
            run::<f64>(objective, &data, &val, &config, Some(23)),
            whole,
            "optimiser {i}, f64"
        );
    }
}

#[test]
fn restoring_refuses_a_run_with_no_steps_left() {
    let data = ToyDensity::TwoMoons.sample_seeded(300, 1);
    let config = TrainConfig { steps: 3, batch_size: 100, ..TrainConfig::default() };
    let objective = Objective::Dsm { sigma: 0.1 };
    let mut trainer =
        Trainer::new(mlp().model(), &objective, &data, None, &config, init::<f64>()).unwrap();
    while trainer.step().unwrap().is_some() {}
    let state = trainer.state();
    let mut again =
        Trainer::new(mlp().model(), &objective, &data, None, &config, init::<f64>()).unwrap();
    let e = again.restore(&state).unwrap_err().to_string();
    assert!(e.contains("already completed 3 steps of the 3 planned"), "{e}");
}

#[test]
fn the_state_survives_a_checkpoint_round_trip_at_both_precisions() {
    let data = ToyDensity::TwoMoons.sample_seeded(300, 1);
    let val = ToyDensity::TwoMoons.sample_seeded(100, 2);
    let config = TrainConfig { steps: 9, batch_size: 100, eval_every: 2, ..TrainConfig::default() };
    let objective = Objective::Dsm { sigma: 0.1 };
    let dir = tempfile::tempdir().unwrap();
    for dtype in [DType::F32, DType::F64] {
        let (params, state) = match dtype {
            DType::F32 => trained::<f32>(&objective, &data, &val, &config),
            DType::F64 => trained::<f64>(&objective, &data, &val, &config),
        };
        assert!(state.best_params.is_some() && !state.optimizer.tensors.is_empty());
        let saved = SavedModel {
            config: mlp(),
            params,
            dtype,
            transform: None,
            standardizer: None,
            columns: None,
            training: None,
            resume: Some(state),
        };
        let path = dir.path().join(format!("last-{dtype}.safetensors"));
        saved.save(&path).unwrap();
        assert_eq!(SavedModel::load(&path).unwrap(), saved, "{dtype}");
    }
}

/// Parameters (as f64) and state after `config`'s steps.
fn trained<T: Element>(
    objective: &Objective,
    data: &Dataset,
    val: &Dataset,
    config: &TrainConfig,
) -> (Vec<Vec<f64>>, TrainState) {
    let mut trainer =
        Trainer::new(mlp().model(), objective, data, Some(val), config, init::<T>()).unwrap();
    for _ in 0..5 {
        trainer.step().unwrap();
    }
    let params =
        trainer.params().iter().map(|p| p.iter().map(|&v| Element::to_f64(v)).collect()).collect();
    (params, trainer.state())
}
