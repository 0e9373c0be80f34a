//! Tests of configuration merging, resolution and validation.

use super::*;
use scorematch::objective::Projection;

fn resolved(c: RunConfig) -> RunConfig {
    c.resolve().0
}

#[test]
fn defaults_resolve_to_the_documented_run() {
    let c = resolved(RunConfig::default());
    assert_eq!(c.model.kind, Some(ModelKind::MlpEnergy));
    assert_eq!(c.model.hidden, Some(vec![64, 64]));
    assert_eq!(c.objective.kind, Some(ObjectiveKind::SsmVr));
    assert_eq!(c.train.steps, Some(2000));
    assert_eq!(c.train.batch_size, Some(256));
    assert_eq!(c.data.source.as_deref(), Some("eight-gaussians"));
    assert!(c.validate().is_ok());
    let t = c.train_config(9000).expect("train config");
    assert_eq!((t.steps, t.batch_size, t.lr), (2000, 256, 3e-3));
    assert_eq!(
        c.objective(),
        Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 }
    );
}

#[test]
fn resolution_is_idempotent_and_round_trips_through_toml() {
    let mut over = RunConfig::default();
    over.model.kind = Some(ModelKind::NcsnScore);
    over.train.schedule = Some(ScheduleName::Cosine);
    over.model.base_sigma = Some(f64::INFINITY);
    let (c, notes) = RunConfig::default().merge(&over).resolve();
    assert_eq!(c.objective.kind, Some(ObjectiveKind::MsDsm));
    assert_eq!(notes.len(), 1, "{notes:?}"); // base_sigma dropped
    let (again, notes) = c.clone().resolve();
    assert_eq!((again, notes.len()), (c.clone(), 0));
    let text = c.to_toml().expect("toml");
    assert_eq!(RunConfig::from_toml(&text).expect("parse"), c);
}

#[test]
fn flags_override_the_file_and_switch_steps_and_epochs() {
    let file = RunConfig::from_toml("seed = 4\n[train]\nepochs = 3\nlr = 0.1\n").expect("parse");
    let mut flags = RunConfig::default();
    flags.train.steps = Some(50);
    flags.seed = Some(9);
    let c = resolved(file.merge(&flags));
    assert_eq!(
        (c.seed, c.train.steps, c.train.epochs, c.train.lr),
        (Some(9), Some(50), None, Some(0.1))
    );
}

#[test]
fn impossible_combinations_name_the_flag() {
    let check = |f: &dyn Fn(&mut RunConfig), needle: &str| {
        let mut c = RunConfig::default();
        f(&mut c);
        let c = resolved(c);
        let e = c.validate().expect_err("invalid").to_string();
        assert!(e.contains(needle), "{e}");
    };
    check(&|c| c.objective.kind = Some(ObjectiveKind::Mle), "use --model nice or gaussian");
    check(&|c| c.objective.kind = Some(ObjectiveKind::MsDsm), "--model ncsn-score");
    check(
        &|c| {
            c.model.kind = Some(ModelKind::NcsnScore);
            c.objective.kind = Some(ObjectiveKind::Dsm);
        },
        "--objective ms-dsm",
    );
    check(&|c| c.model.hidden = Some(vec![]), "--hidden");
    check(&|c| c.train.lr = Some(-1.0), "--lr");
    check(&|c| c.data.val_fraction = Some(1.0), "--val-fraction");
    check(
        &|c| {
            c.train.patience = Some(3);
            c.data.val_fraction = Some(0.0);
        },
        "--val-fraction",
    );
}

#[test]
fn unknown_keys_and_values_are_reported_with_their_position() {
    let e = RunConfig::from_toml("[model]\nkind = \"mlp\"\n").expect_err("bad").to_string();
    assert!(e.contains("line 2") && e.contains("mlp-energy"), "{e}");
    let e = RunConfig::from_toml("[train]\nsteps = 3\nspeed = 1\n").expect_err("bad").to_string();
    assert!(e.contains("speed") && e.contains("line 3"), "{e}");
    let c = RunConfig::from_toml("[objective]\nkind = \"ssm_vr\"\n").expect("alias");
    assert_eq!(c.objective.kind, Some(ObjectiveKind::SsmVr));
}
