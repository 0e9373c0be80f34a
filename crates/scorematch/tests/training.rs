//! The trainer's contract: determinism, early stopping with keep-best, interruption,
//! non-finite losses, checkpoint round trips and clear errors.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::checkpoint::Checkpoint;
use scorematch::config::RunConfig;
use scorematch::data::{Dataset, GaussianMixture, Rows, Standardizer, ToyDensity};
use scorematch::model::{Activation, CompiledField, GaussianEnergy, MlpEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::OptimizerKind;
use scorematch::saved::METADATA_KEY;
use scorematch::saved::SavedModel;
use scorematch::train::{
    Control, HeldStep, StopReason, TrainConfig, TrainReport, TrainingRecord, fit,
};
use scorematch_graph::{DType, Element};

fn mlp() -> ModelConfig {
    ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![16, 16],
        activation: Activation::Swish,
        base_sigma: Some(3.0),
    })
}

fn run<T: Element>(
    config: &ModelConfig,
    data: &Dataset,
    val: Option<&Dataset>,
    train: &TrainConfig,
) -> (Vec<Vec<T>>, TrainReport) {
    let mut params: Vec<Vec<T>> = config
        .init_params(&mut StdRng::seed_from_u64(9))
        .into_iter()
        .map(|p| p.into_iter().map(T::from_f64).collect())
        .collect();
    let obj = Objective::Ssm { projection: Projection::Gaussian, n_projections: 2 };
    let report = fit(
        config.model(),
        &obj,
        data,
        val.map(|v| v as &dyn Rows),
        train,
        &mut params,
        &mut |_| Control::Continue,
    )
    .unwrap();
    (params, report)
}

fn bits<T: Element>(p: &[Vec<T>]) -> Vec<u64> {
    p.iter().flatten().map(|&v| Element::to_f64(v).to_bits()).collect()
}

#[test]
fn same_seed_and_threads_give_bit_identical_parameters() {
    let data = ToyDensity::TwoMoons.sample_seeded(1000, 1);
    for threads in [1, 2] {
        let cfg =
            TrainConfig { steps: 60, batch_size: 100, threads, seed: 3, ..TrainConfig::default() };
        let (a, ra) = run::<f32>(&mlp(), &data, None, &cfg);
        let (b, rb) = run::<f32>(&mlp(), &data, None, &cfg);
        assert_eq!(bits(&a), bits(&b), "threads {threads}: two runs differ");
        assert_eq!(
            ra.history.iter().map(|m| m.loss.to_bits()).collect::<Vec<_>>(),
            rb.history.iter().map(|m| m.loss.to_bits()).collect::<Vec<_>>()
        );
        let (c, _) = run::<f32>(&mlp(), &data, None, &TrainConfig { seed: 4, ..cfg });
        assert_ne!(bits(&a), bits(&c), "a different seed must change the result");
    }
}

#[test]
fn early_stopping_keeps_the_best_parameters() {
    // Train on N(0, 0.25 I) but validate on points far away: as the model sharpens around
    // 0, the validation loss gets worse from the first evaluation on.
    let narrow = GaussianMixture::gaussian(vec![0.0, 0.0], vec![0.25, 0.0, 0.0, 0.25]).unwrap();
    let data = narrow.sample(1000, &mut StdRng::seed_from_u64(2));
    let far = GaussianMixture::gaussian(vec![4.0, 4.0], vec![0.25, 0.0, 0.0, 0.25]).unwrap();
    let val = far.sample(200, &mut StdRng::seed_from_u64(3));
    let gaussian = ModelConfig::Gaussian(GaussianEnergy { dim: 2 });
    let cfg = TrainConfig {
        steps: 500,
        batch_size: 100,
        lr: 0.05,
        eval_every: 10,
        patience: Some(3),
        seed: 1,
        ..TrainConfig::default()
    };
    let (kept, report) = run::<f64>(&gaussian, &data, Some(&val), &cfg);
    assert_eq!(report.stop, StopReason::EarlyStopped);
    let (best_step, _) = report.best.unwrap();
    assert_eq!(
        report.steps_done,
        best_step + 3 * 10,
        "stops after `patience` evaluations without improvement"
    );
    // Validation draws from its own stream, so training to `best_step` alone retraces it.
    let (retraced, _) = run::<f64>(
        &gaussian,
        &data,
        None,
        &TrainConfig { steps: best_step, patience: None, ..cfg.clone() },
    );
    assert_eq!(
        bits(&kept),
        bits(&retraced),
        "keep-best must return the parameters of step {best_step}"
    );
    let (last, _) =
        run::<f64>(&gaussian, &data, Some(&val), &TrainConfig { keep_best: false, ..cfg });
    assert_ne!(bits(&kept), bits(&last));
}

#[test]
fn interrupting_returns_the_last_completed_step() {
    let data = ToyDensity::EightGaussians.sample_seeded(1000, 1);
    let cfg = TrainConfig { steps: 100, batch_size: 50, seed: 5, ..TrainConfig::default() };
    let mut params = mlp().init_params(&mut StdRng::seed_from_u64(9));
    let obj = Objective::Ssm { projection: Projection::Gaussian, n_projections: 2 };
    let report = fit(mlp().model(), &obj, &data, None, &cfg, &mut params, &mut |m| {
        if m.step == 7 { Control::Stop } else { Control::Continue }
    })
    .unwrap();
    assert_eq!((report.stop.clone(), report.steps_done), (StopReason::Interrupted, 7));
    let (seven, _) = run::<f64>(&mlp(), &data, None, &TrainConfig { steps: 7, ..cfg });
    assert_eq!(bits(&params), bits(&seven));
}

#[test]
fn a_non_finite_loss_stops_training_with_the_last_good_parameters() {
    // Plain SGD with a huge step on a Gaussian energy: the precision explodes until the
    // loss overflows.
    let data = ToyDensity::Gaussian.sample_seeded(500, 1);
    let gaussian = ModelConfig::Gaussian(GaussianEnergy { dim: 2 });
    let cfg = TrainConfig {
        steps: 200,
        batch_size: 100,
        lr: 50.0,
        optimizer: OptimizerKind::sgd(),
        seed: 2,
        ..TrainConfig::default()
    };
    // A validation set evaluated every step: with keep-best, a diverged run keeps its best
    // validation step (finite, and what a user stopping a run wants), as any other run does.
    let val = ToyDensity::Gaussian.sample_seeded(100, 7);
    let with_val = TrainConfig { eval_every: 1, keep_best: true, ..cfg.clone() };
    let mut params = gaussian.init_params(&mut StdRng::seed_from_u64(9));
    let report = fit(
        gaussian.model(),
        &Objective::Esm { chunk: None },
        &data,
        Some(&val),
        &with_val,
        &mut params,
        &mut |_| Control::Continue,
    )
    .unwrap();
    let best = report.best.map(|(s, _)| s).unwrap_or_default();
    assert!(
        best > 0 && best < report.steps_done,
        "the best step must precede the divergence for this test to mean anything: {:?}",
        report.best
    );
    let StopReason::NonFinite { step } = report.stop else {
        panic!("expected a non-finite stop, got {:?}", report.stop)
    };
    assert!(params.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(report.steps_done, step - 1);
    assert_eq!(report.held, HeldStep::best(best));
    let mut retraced = gaussian.init_params(&mut StdRng::seed_from_u64(9));
    fit(
        gaussian.model(),
        &Objective::Esm { chunk: None },
        &data,
        None,
        &TrainConfig { steps: best, ..cfg },
        &mut retraced,
        &mut |_| Control::Continue,
    )
    .unwrap();
    assert_eq!(bits(&params), bits(&retraced), "parameters must be those after step {best}");
}

#[test]
fn absurd_step_counts_are_refused_before_any_allocation() {
    let data = ToyDensity::TwoMoons.sample_seeded(100, 1);
    let mut params = mlp().init_params(&mut StdRng::seed_from_u64(1));
    for (cfg, field) in [
        (
            TrainConfig { steps: usize::MAX / 2, batch_size: 10, ..TrainConfig::default() },
            "train.steps",
        ),
        (
            TrainConfig { epochs: Some(usize::MAX / 3), batch_size: 10, ..TrainConfig::default() },
            "train.epochs",
        ),
    ] {
        let msg = fit(
            mlp().model(),
            &Objective::Esm { chunk: None },
            &data,
            None,
            &cfg,
            &mut params,
            &mut |_| Control::Continue,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with(field) && msg.contains("steps allowed"), "{msg}");
    }
}

/// A training record with the values JSON finds awkward: an infinite base scale, a
/// non-finite stop, a best validation step.
fn awkward_record() -> TrainingRecord {
    let mut run = RunConfig::default();
    run.model.base_sigma = f64::INFINITY;
    let run = run.resolved();
    let report = TrainReport {
        history: vec![],
        stop: StopReason::NonFinite { step: 7 },
        steps_done: 6,
        best: Some((5, -1.25)),
        held: HeldStep::best(5),
        final_loss: Some(-0.75),
        seconds: 0.5,
    };
    TrainingRecord::new(run.clone(), run.objective(), 900, 100, &report)
}

#[test]
fn save_then_load_gives_bit_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let raw = ToyDensity::TwoMoons.sample_seeded(300, 1);
    let standardizer = Standardizer::fit(&raw).unwrap();
    let record = awkward_record();
    for dtype in [DType::F32, DType::F64] {
        let config = mlp();
        let mut saved = SavedModel {
            config: config.clone(),
            params: config.init_params(&mut StdRng::seed_from_u64(1)),
            dtype,
            transform: None,
            standardizer: Some(standardizer.clone()),
            columns: Some(vec!["x".into(), "y".into()]),
            training: Some(record.clone()),
            resume: None,
        };
        if dtype == DType::F32 {
            let p32 = saved.params_as::<f32>();
            saved.set_params(&p32);
        }
        let path = dir.path().join(format!("{dtype}.safetensors"));
        saved.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(loaded, saved);
        let x: Vec<f64> = standardizer.transform(&raw).unwrap().into_data();
        let outputs = |m: &SavedModel| -> Vec<u64> {
            let mut f = CompiledField::<f64>::new(m.config.model(), 300, 1).unwrap();
            f.run(&m.params_as::<f64>(), &x, None).unwrap();
            f.score().iter().chain(f.energy().unwrap()).map(|v| v.to_bits()).collect()
        };
        assert_eq!(outputs(&saved), outputs(&loaded), "{dtype}");
    }
}

#[test]
fn loading_refuses_non_finite_parameters_and_invalid_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let config = mlp();
    let mut params = config.init_params(&mut StdRng::seed_from_u64(1));
    params[2][0] = f64::NAN;
    let saved = SavedModel {
        config,
        params,
        dtype: DType::F64,
        transform: None,
        standardizer: None,
        columns: None,
        training: None,
        resume: None,
    };
    let path = dir.path().join("nan.safetensors");
    saved.save(&path).unwrap();
    let msg = SavedModel::load(&path).unwrap_err().to_string();
    assert!(msg.contains("layers.1.weight") && msg.contains("NaN"), "{msg}");
    let bad = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![4],
        activation: Activation::Tanh,
        base_sigma: Some(-1.0),
    });
    let saved = SavedModel {
        params: bad.init_params(&mut StdRng::seed_from_u64(1)),
        config: bad,
        dtype: DType::F64,
        transform: None,
        standardizer: None,
        columns: None,
        training: None,
        resume: None,
    };
    let path = dir.path().join("bad.safetensors");
    saved.save(&path).unwrap();
    let msg = SavedModel::load(&path).unwrap_err().to_string();
    assert!(msg.contains("model.base_sigma = -1"), "{msg}");
}

#[test]
fn bad_configurations_are_refused_with_a_clear_message() {
    let data = ToyDensity::TwoMoons.sample_seeded(50, 1);
    let mut params = mlp().init_params(&mut StdRng::seed_from_u64(1));
    let obj = Objective::Esm { chunk: None };
    let err = |cfg: TrainConfig, data: &Dataset, params: &mut Vec<Vec<f64>>| {
        fit(mlp().model(), &obj, data, None, &cfg, params, &mut |_| Control::Continue)
            .unwrap_err()
            .to_string()
    };
    let msg = err(TrainConfig { batch_size: 64, ..TrainConfig::default() }, &data, &mut params);
    assert!(
        msg.contains("fewer than one batch") && msg.contains("lower train.batch_size"),
        "{msg}"
    );
    let msg =
        err(TrainConfig { batch_size: 10, lr: -1.0, ..TrainConfig::default() }, &data, &mut params);
    assert!(msg.starts_with("train.lr = -1"), "{msg}");
    let three = ToyDensity::TwoMoons.sample_seeded(50, 1).into_data();
    let wide = Dataset::from_flat(25, 4, three).unwrap();
    let msg = err(TrainConfig { batch_size: 10, ..TrainConfig::default() }, &wide, &mut params);
    assert!(msg.contains("4 columns") && msg.contains("expects 2"), "{msg}");
    let ncsn_only = Objective::MsDsm { sigma_min: 0.1, sigma_max: 1.0, levels: 4 };
    let msg = ncsn_only.validate(mlp().model()).unwrap_err().to_string();
    assert!(msg.contains("ncsn-score"), "{msg}");
    let msg = Objective::Mle.validate(mlp().model()).unwrap_err().to_string();
    assert!(msg.contains("nice") && msg.contains("gaussian"), "{msg}");
}

#[test]
fn checkpoints_of_format_1_still_load_and_newer_ones_say_which_versions_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![4],
        activation: Activation::Tanh,
        base_sigma: None,
    });
    let saved = SavedModel {
        params: config.init_params(&mut StdRng::seed_from_u64(1)),
        config,
        dtype: DType::F64,
        transform: None,
        standardizer: None,
        columns: None,
        training: None,
        resume: None,
    };
    // The metadata as version 1 wrote it: a free-form record whose unset settings (and the
    // infinite base scale) are nulls.
    let v1_record = r#"{"config": {"seed": 3, "threads": 1, "dtype": "f64", "plots": null,
        "data": {"source": "two-moons", "n_samples": 500, "standardize": true, "val_fraction": 0.1},
        "model": {"kind": "mlp-energy", "hidden": [4], "activation": "tanh", "base_sigma": null,
                  "couplings": null},
        "objective": {"kind": "ssm", "projection": "sphere", "n_projections": 2, "sigma": null,
                      "sigma_min": null, "sigma_max": null, "levels": null},
        "train": {"steps": 40, "epochs": null, "batch_size": 50, "lr": 0.01, "optimizer": "adam",
                  "momentum": null, "weight_decay": 0.0, "schedule": "constant",
                  "warmup_steps": null, "min_lr": null, "lr_step_size": null, "lr_gamma": null,
                  "clip_grad_norm": null, "patience": null, "eval_every": 10, "keep_best": true},
        "sample": {"n": 10, "steps": 5, "step_size": 0.01}},
        "objective": {"kind": "ssm", "projection": "sphere", "n_projections": 2},
        "n_train": 450, "n_validation": 50, "stop": "Completed", "steps_done": 40,
        "best_validation": {"step": 30, "loss": -0.5}, "final_loss": -0.4}"#;
    let with_header = |version: u32| {
        let mut ck: Checkpoint = saved.to_checkpoint().unwrap();
        let mut header: serde_json::Value =
            serde_json::from_str(&ck.metadata[METADATA_KEY]).unwrap();
        header["format_version"] = version.into();
        header["training"] = serde_json::from_str(v1_record).unwrap();
        ck.metadata.insert(METADATA_KEY.into(), header.to_string());
        let path = dir.path().join(format!("v{version}.safetensors"));
        ck.save(&path).unwrap();
        path
    };
    let old = SavedModel::load(with_header(1)).unwrap();
    assert_eq!(old.params, saved.params);
    let record = old.training.expect("the version-1 record is read");
    assert_eq!((record.config.seed, record.config.train.steps, record.steps_done), (3, 40, 40));
    assert!(record.config.model.base_sigma.is_infinite(), "null base scale means none");
    assert_eq!(record.objective.name(), "ssm");
    let msg = SavedModel::load(with_header(5)).unwrap_err().to_string();
    assert!(msg.contains("format version 5") && msg.contains("versions 1 to 4"), "{msg}");
}
