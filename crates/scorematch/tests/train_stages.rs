//! Training settings the DKEF protocol needs (issue 9 item 2): a validation objective that
//! differs from the training objective, training a subset of the parameters, and a DKEF's
//! α taken from its stored statistics (the λ-only stage).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use scorematch::data::{Dataset, ToyDensity};
use scorematch::error::Error;
use scorematch::eval::HeldoutLoss;
use scorematch::model::{Activation, ClosedForm, Dkef, MlpEnergy, Model, ModelConfig};
use scorematch::objective::Objective;
use scorematch::rng::Stream;
use scorematch::train::{ClosedFormFit, TrainConfig, Trainer, trainable_mask};

fn moons(n: usize, seed: u64) -> Dataset {
    ToyDensity::from_name("moons").unwrap().sample_seeded(n, seed)
}

fn init(config: ModelConfig, data: &Dataset) -> Vec<Vec<f64>> {
    let mut params = config.init_params(&mut Stream::Init.rng(5));
    config.model().init_from_data(&mut params, data, &mut Stream::Init.rng(6)).unwrap();
    params
}

#[test]
fn the_validation_loss_is_the_validation_objective_of_the_current_parameters() {
    let model =
        MlpEnergy { dim: 2, hidden: vec![8], activation: Activation::Softplus, base_sigma: None };
    let (train, validation) = (moons(64, 1), moons(20, 2));
    let config = TrainConfig {
        steps: 4,
        batch_size: 16,
        eval_every: 2,
        val_objective: Some(Objective::Esm { chunk: None }),
        ..TrainConfig::default()
    };
    let dsm = Objective::Dsm { sigma: 0.1 };
    let mut trainer = Trainer::new(
        &model,
        &dsm,
        &train,
        Some(&validation),
        &config,
        init(ModelConfig::MlpEnergy(model.clone()), &train),
    )
    .unwrap();
    let mut esm =
        HeldoutLoss::<f64>::new(&model, &Objective::Esm { chunk: None }, 16, 20, 1).unwrap();
    let mut dsm_val = HeldoutLoss::<f64>::new(&model, &dsm, 16, 20, 1).unwrap();
    let mut seen = 0;
    while let Some(m) = trainer.step().unwrap() {
        if let Some(v) = m.val_loss {
            let seed = Stream::Validation.seed(config.seed);
            let want = esm.mean(trainer.params(), &validation, seed).unwrap();
            assert!((v - want).abs() <= 1e-12 * want.abs().max(1.0), "{v} vs exact SM {want}");
            let other = dsm_val.mean(trainer.params(), &validation, seed).unwrap();
            assert!((v - other).abs() > 1e-6, "the validation loss is still the training one");
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
}

#[test]
fn lambda_alone_trains_from_the_stored_statistics_and_nothing_else_moves() {
    let model = Dkef { dim: 2, inducing_points: 4, kernels: 2, width: 5 };
    let (train, validation) = (moons(64, 1), moons(24, 2));
    // Stage 1 leaves statistics refitted over the training rows.
    let first = TrainConfig { steps: 3, batch_size: 16, ..TrainConfig::default() };
    let objective = Objective::Esm { chunk: None };
    let mut trainer = Trainer::new(
        &model,
        &objective,
        &train,
        None,
        &first,
        init(ModelConfig::Dkef(model.clone()), &train),
    )
    .unwrap();
    while trainer.step().unwrap().is_some() {}
    let fitted = trainer.params().to_vec();
    let [gi, _] = model.system_params();
    assert!(fitted[gi].iter().any(|v| *v != 0.0), "the statistics were refitted");

    let lambda = TrainConfig {
        steps: 5,
        batch_size: 8,
        lr: 1e-2,
        train_only: vec!["log_lambda".into()],
        closed_form_fit: ClosedFormFit::Stored,
        ..TrainConfig::default()
    };
    let mut tuner =
        Trainer::new(&model, &objective, &validation, None, &lambda, fitted.clone()).unwrap();
    while tuner.step().unwrap().is_some() {}
    let names: Vec<String> = model.param_specs().into_iter().map(|s| s.name).collect();
    for (i, name) in names.iter().enumerate() {
        let moved = tuner.params()[i] != fitted[i];
        assert_eq!(moved, name == "log_lambda", "{name} moved: {moved}");
    }
    // The stored statistics were left as stage 1 refitted them (no refit over the
    // validation rows this stage trains on).
    assert_eq!(tuner.params()[gi], fitted[gi]);
    let mask = trainable_mask(&model, &lambda.train_only).unwrap();
    assert_eq!(mask.iter().filter(|t| **t).count(), 1);
}

#[test]
fn a_prefix_that_names_no_parameter_is_refused() {
    let model = Dkef { dim: 2, inducing_points: 4, kernels: 1, width: 3 };
    let err = trainable_mask(&model, &["log_lamda".to_string()]).unwrap_err();
    let Error::Config(e) = err else { panic!("not a configuration error: {err}") };
    assert_eq!(e.field, "train.train_only");
    assert!(e.expected.contains("log_lambda"), "{}", e.expected);
    let all = trainable_mask(&model, &[]).unwrap();
    assert!(all.iter().all(|t| *t) && all.len() == model.param_specs().len());
    let config = TrainConfig { train_only: vec![" ".into()], ..TrainConfig::default() };
    assert_eq!(config.validate().unwrap_err().field, "train.train_only");
}
