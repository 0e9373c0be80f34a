//! Tests of the run configuration: defaults, resolution, one check per rule, and the
//! toolkit types it builds.

use super::*;
use crate::Error;
use crate::data::{Dataset, Rows};
use crate::objective::Projection;

/// A change to the default configuration.
type Edit = Box<dyn Fn(&mut RunConfig)>;

fn refused(f: impl Fn(&mut RunConfig)) -> ConfigError {
    let mut c = RunConfig::default();
    f(&mut c);
    c.validate().expect_err("invalid")
}

#[test]
fn the_default_run_is_valid_and_builds_the_documented_types() {
    let c = RunConfig::default();
    c.validate().expect("valid");
    let model = c.model_config(2).expect("model");
    assert_eq!(
        model,
        ModelConfig::MlpEnergy(MlpEnergy {
            dim: 2,
            hidden: vec![64, 64],
            activation: crate::model::Activation::Softplus,
            base_sigma: Some(3.0),
        })
    );
    assert_eq!(
        c.objective(),
        Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 }
    );
    let t = c.train_config(9000).expect("train");
    assert_eq!(t, TrainConfig::default());
    assert_eq!((t.steps, t.batch_size, t.lr, t.threads), (2000, 256, 3e-3, 1));
    let s = c.sampler_config();
    assert_eq!(
        (s.kind, s.steps, s.step_size, s.n_chains),
        (SamplerKind::Langevin, 500, 2e-3, 1000)
    );
}

#[test]
fn resolution_follows_the_model_and_is_idempotent() {
    let mut c = RunConfig::default();
    c.model.kind = ModelKind::NcsnScore;
    c.train.optimizer = OptimizerName::Adamw;
    let r = c.resolved();
    assert_eq!(r.objective.kind, Some(ObjectiveKind::MsDsm));
    assert_eq!(r.train.weight_decay, Some(0.01));
    assert_eq!((r.sample.steps, r.sample.step_size), (Some(100), Some(2e-5)));
    assert_eq!(r.clone().resolved(), r);
    let s = r.sampler_config();
    assert_eq!((s.kind, s.init_std, s.ladder.levels), (SamplerKind::Annealed, 1.0, 10));
    assert!(matches!(
        r.train_config(1000).expect("train").optimizer,
        OptimizerKind::AdamW { weight_decay, .. } if weight_decay == 0.01
    ));
}

#[test]
fn every_refusal_names_its_field_and_no_flag() {
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|c| c.threads = 0), "threads"),
        (Box::new(|c| c.data.val_fraction = 1.0), "data.val_fraction"),
        (Box::new(|c| c.data.n_samples = 0), "data.n_samples"),
        (Box::new(|c| c.model.hidden = vec![]), "model.hidden"),
        (Box::new(|c| c.model.hidden = vec![8, 0]), "model.hidden"),
        (Box::new(|c| c.model.base_sigma = -1.0), "model.base_sigma"),
        (
            Box::new(|c| {
                c.model.kind = ModelKind::Nice;
                c.model.couplings = 1;
            }),
            "model.couplings",
        ),
        (Box::new(|c| c.objective.kind = Some(ObjectiveKind::Mle)), "objective.kind"),
        (Box::new(|c| c.objective.kind = Some(ObjectiveKind::MsDsm)), "objective.kind"),
        (
            Box::new(|c| {
                c.model.kind = ModelKind::NcsnScore;
                c.objective.kind = Some(ObjectiveKind::Dsm);
            }),
            "objective.kind",
        ),
        (Box::new(|c| c.objective.n_projections = 0), "objective.n_projections"),
        (
            Box::new(|c| {
                c.objective.kind = Some(ObjectiveKind::Esm);
                c.objective.esm_chunk = Some(0);
            }),
            "objective.esm_chunk",
        ),
        (
            Box::new(|c| {
                c.objective.kind = Some(ObjectiveKind::Dsm);
                c.objective.sigma = 0.0;
            }),
            "objective.sigma",
        ),
        (
            Box::new(|c| {
                c.model.kind = ModelKind::NcsnScore;
                c.objective.sigma_min = 2.0;
            }),
            "objective.sigma_max",
        ),
        (Box::new(|c| c.train.steps = 0), "train.steps"),
        (Box::new(|c| c.train.epochs = Some(0)), "train.epochs"),
        (Box::new(|c| c.train.batch_size = 0), "train.batch_size"),
        (Box::new(|c| c.train.lr = -1.0), "train.lr"),
        (Box::new(|c| c.train.lr = f64::NAN), "train.lr"),
        (
            Box::new(|c| {
                c.train.optimizer = OptimizerName::Sgd;
                c.train.momentum = -0.5;
            }),
            "train.momentum",
        ),
        (Box::new(|c| c.train.weight_decay = Some(-1.0)), "train.weight_decay"),
        (Box::new(|c| c.train.clip_grad_norm = Some(0.0)), "train.clip_grad_norm"),
        (Box::new(|c| c.train.patience = Some(0)), "train.patience"),
        (
            Box::new(|c| {
                c.train.patience = Some(3);
                c.data.val_fraction = 0.0;
            }),
            "train.patience",
        ),
        (Box::new(|c| c.train.eval_every = 0), "train.eval_every"),
        (
            Box::new(|c| {
                c.train.schedule = ScheduleName::Cosine;
                c.train.warmup_steps = 5000;
            }),
            "train.warmup_steps",
        ),
        (
            Box::new(|c| {
                c.train.schedule = ScheduleName::Step;
                c.train.lr_gamma = 0.0;
            }),
            "train.lr_gamma",
        ),
        (Box::new(|c| c.sample.n = 0), "sample.n"),
        (Box::new(|c| c.sample.step_size = Some(-1.0)), "sample.step_size"),
    ];
    for (f, field) in cases {
        let e = refused(f);
        assert_eq!(e.field, field, "{e}");
        assert!(!e.to_string().contains("--"), "a library message names a flag: {e}");
    }
}

#[test]
fn data_dependent_rules_are_checked_when_the_data_is_known() {
    let c = RunConfig::default();
    let e = c.train_config(100).expect_err("fewer rows than a batch");
    assert!(matches!(&e, Error::Config(ConfigError { field: "train.batch_size", .. })), "{e}");
    let mut nice = RunConfig::default();
    nice.model.kind = ModelKind::Nice;
    let e = nice.model_config(1).expect_err("1-D nice");
    assert!(matches!(&e, Error::Config(ConfigError { field: "model.dim", .. })), "{e}");
    let mut cosine = RunConfig::default();
    cosine.train.schedule = ScheduleName::Cosine;
    cosine.train.epochs = Some(2);
    cosine.train.warmup_steps = 100;
    cosine.validate().expect("an epoch count bounds no schedule before the data is known");
    let e = cosine.train_config(1024).expect_err("2 epochs of 4 batches < 100 warmup steps");
    assert!(matches!(&e, Error::Config(ConfigError { field: "train.warmup_steps", .. })), "{e}");
    match cosine.train_config(256 * 100).expect("long enough").schedule {
        Schedule::Cosine { total_steps, .. } => assert_eq!(total_steps, 200),
        other => panic!("{other:?}"),
    }
}

#[test]
fn names_parse_with_suggestions() {
    let e = "ssm-rv".parse::<ObjectiveKind>().expect_err("typo");
    assert_eq!(e.suggestion, Some("ssm-vr"));
    assert_eq!(
        "silu".parse::<crate::model::Activation>().ok(),
        Some(crate::model::Activation::Swish)
    );
    assert_eq!(parse_dtype("F64"), Ok(DType::F64));
    assert!(parse_dtype("f16").is_err());
    assert_eq!(parse_base_sigma("none"), Ok(f64::INFINITY));
    assert_eq!(parse_base_sigma("2.5"), Ok(2.5));
    assert!(parse_base_sigma("x").is_err());
}

#[test]
fn the_named_kinds_are_the_serde_tags_of_what_they_build() {
    let tag = |v: serde_json::Value| v["kind"].as_str().map(str::to_string);
    let mut run = RunConfig::default();
    for &kind in ModelKind::ALL {
        run.model.kind = kind;
        let model = run.model_config(2).expect("model");
        assert_eq!(model.kind(), kind);
        assert_eq!(tag(serde_json::to_value(&model).expect("json")).as_deref(), Some(kind.name()));
    }
    for &kind in ObjectiveKind::ALL {
        run.objective.kind = Some(kind);
        let objective = run.objective();
        assert_eq!(objective.kind(), kind);
        let json = serde_json::to_value(&objective).expect("json");
        assert_eq!(tag(json).as_deref(), Some(kind.name()));
    }
    for &name in OptimizerName::ALL {
        let optimizer = OptimizerKind::of(name, 0.0, name.default_weight_decay());
        assert_eq!(optimizer.family(), name);
        let json = serde_json::to_value(&optimizer).expect("json");
        assert_eq!(tag(json).as_deref(), Some(name.name()));
    }
    for &name in ScheduleName::ALL {
        run.train.schedule = name;
        let schedule = run.train_config(10_000).expect("train").schedule;
        let json = serde_json::to_value(&schedule).expect("json");
        assert_eq!(tag(json).as_deref(), Some(name.name()));
    }
}

#[test]
fn own_data_gets_a_patience_built_in_densities_none() {
    let own = |source: &str, val_fraction: f64, patience: Option<usize>| {
        let mut c = RunConfig::default();
        (c.data.source, c.data.val_fraction, c.train.patience) =
            (source.into(), val_fraction, patience);
        c.resolved().train.patience
    };
    assert_eq!(own("wine.csv", 0.1, None), Some(OWN_DATA_PATIENCE));
    assert_eq!(own("digits.npy", 0.1, Some(3)), Some(3), "an explicit patience wins");
    assert_eq!(own("wine.csv", 0.0, None), None, "no validation set, no early stopping");
    assert_eq!(own("two-moons", 0.1, None), None);
    let mut c = RunConfig::default();
    c.data.source = "wine.csv".into();
    let resolved = c.resolved();
    resolved.validate().expect("valid");
    assert_eq!(resolved.clone().resolved(), resolved, "idempotent");
}

#[test]
fn logit_bounds_are_two_ordered_numbers_and_need_the_logit() {
    let mut c = RunConfig::default();
    c.data.logit = true;
    c.data.logit_bounds = Some(vec![0.0, 16.0]);
    assert_eq!(c.data.logit_bounds().expect("valid"), Some((0.0, 16.0)));
    for (logit, bounds) in [(true, vec![1.0, 0.0]), (true, vec![0.0]), (false, vec![0.0, 1.0])] {
        let e = refused(|c| (c.data.logit, c.data.logit_bounds) = (logit, Some(bounds.clone())));
        assert_eq!(e.field, "data.logit_bounds", "{e}");
    }
}

#[test]
fn prepared_rows_are_dequantised_within_their_cells_the_same_way_every_time() {
    let rows: Vec<Vec<f64>> =
        (0..200).map(|i| vec![(i % 7) as f64, (i as f64 * 0.37).sin()]).collect();
    let raw = Dataset::from_rows(&rows).expect("rows");
    let mut c = RunConfig::default();
    c.data.dequantize = crate::data::Dequantize::Auto;
    c.data.standardize = false;
    let all = |rows: &std::sync::Arc<dyn Rows>| rows.head(usize::MAX).expect("rows");
    let a = c.prepare_rows(&raw).expect("rows");
    let b = c.prepare_rows(&raw).expect("rows");
    assert_eq!(all(&a.train), all(&b.train), "the noise comes from the run's seed");
    assert_eq!(a.transform.as_ref().map(|t| t.dequantize.clone()), Some(vec![1.0, 0.0]));
    let validation = a.validation.as_ref().expect("validation rows");
    for (noisy, given) in [(&a.train, &a.train_raw), (validation, &a.validation_raw)] {
        for (x, r) in all(noisy).rows().zip(all(given).rows()) {
            assert!(x[0] != r[0] && (x[0] - r[0]).abs() <= 0.5, "{x:?} from {r:?}");
            assert_eq!(x[1], r[1], "a continuous column is left alone");
        }
    }
    c.seed = 1;
    assert_ne!(all(&c.prepare_rows(&raw).expect("rows").train), all(&a.train));
}
