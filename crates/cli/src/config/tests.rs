//! Tests of the configuration's layering (file, then typed flags) and its wording.

use super::*;
use scorematch::model::ModelKind;
use scorematch::objective::{ObjectiveKind, Projection};
use scorematch::optim::ScheduleName;

/// The flags of `argv` (without the program name) laid over `base`.
fn with_flags(base: RunConfig, argv: &[&str]) -> RunConfig {
    let cmd = RunFlags::augment_args(Command::new("train"));
    let matches = cmd
        .try_get_matches_from(std::iter::once("train").chain(argv.iter().copied()))
        .expect("flags parse");
    let flags = RunFlags::from_arg_matches(&matches).expect("flags");
    let mut config = base;
    flags.apply(&mut config).expect("apply");
    config
}

#[test]
fn no_flags_leave_the_library_default() {
    assert_eq!(with_flags(RunConfig::default(), &[]), RunConfig::default());
    let c = RunConfig::default().resolved();
    assert_eq!(c.objective.kind, Some(ObjectiveKind::SsmVr));
    assert!(c.validate().is_ok());
    let t = c.train_config(9000).expect("train config");
    assert_eq!((t.steps, t.batch_size, t.lr), (2000, 256, 3e-3));
    assert_eq!(t, scorematch::train::TrainConfig::default());
    assert_eq!(
        c.objective(),
        scorematch::objective::Objective::SsmVr {
            projection: Projection::Rademacher,
            n_projections: 1
        }
    );
}

#[test]
fn typed_flags_override_the_file_and_nothing_else_does() {
    let file = from_toml(
        "seed = 4\nplots = false\n[data]\nstandardize = false\n[train]\nepochs = 3\nlr = 0.1\n",
    )
    .expect("parse");
    let c = with_flags(file.clone(), &["--steps", "50", "--seed", "9", "--hidden", "8,4"]);
    assert_eq!((c.seed, c.train.steps, c.train.epochs, c.train.lr), (9, 50, None, 0.1));
    assert_eq!(c.model.hidden, vec![8, 4]);
    // `--no-plots` and `--no-standardize` not typed: the file's `false` stands.
    assert!(!c.plots && !c.data.standardize);
    let c = with_flags(file, &["--no-plots", "--model", "ncsn-score", "--objective", "ms_dsm"]);
    assert_eq!(c.train.epochs, Some(3), "epochs stays unless --steps is typed");
    assert_eq!(
        (c.model.kind, c.objective.kind),
        (ModelKind::NcsnScore, Some(ObjectiveKind::MsDsm))
    );
    let c = with_flags(RunConfig::default(), &["--no-plots", "--base-sigma", "none"]);
    assert!(!c.plots && c.model.base_sigma.is_infinite());
}

#[test]
fn typed_flags_the_run_does_not_use_are_noted() {
    let cmd = RunFlags::augment_args(Command::new("train"));
    let argv =
        ["train", "--sigma", "0.2", "--momentum", "0.9", "--lr", "0.01", "--n-samples", "50"];
    let flags =
        RunFlags::from_arg_matches(&cmd.try_get_matches_from(argv).expect("parse")).expect("flags");
    let mut config = RunConfig::default();
    flags.apply(&mut config).expect("apply");
    assert_eq!(
        flags.unused(&config),
        vec!["ignoring --sigma: used by dsm only", "ignoring --momentum: used by sgd only"]
    );
}

#[test]
fn resolution_writes_the_usual_choices_and_round_trips_through_toml() {
    let c = with_flags(RunConfig::default(), &["--model", "ncsn-score", "--schedule", "cosine"]);
    let c = c.resolved();
    assert_eq!(c.objective.kind, Some(ObjectiveKind::MsDsm));
    assert_eq!((c.sample.steps, c.sample.step_size), (Some(100), Some(2e-5)));
    assert_eq!(c.train.schedule, ScheduleName::Cosine);
    assert_eq!(c.clone().resolved(), c);
    let text = to_toml(&c).expect("toml");
    assert_eq!(from_toml(&text).expect("parse"), c);
}

#[test]
fn a_config_written_by_the_previous_release_still_runs() {
    // config.toml as `scorematch train` 0.1 wrote it (every field optional, unused ones
    // dropped, `base_sigma = inf` for none).
    let old = "seed = 0\nthreads = 1\ndtype = \"f32\"\nplots = true\n\n[data]\nsource = \
               \"two-moons\"\nn_samples = 10000\nstandardize = true\nval_fraction = 0.1\n\n\
               [model]\nkind = \"mlp-energy\"\nhidden = [64, 64]\nactivation = \"softplus\"\n\
               base_sigma = inf\n\n[objective]\nkind = \"ssm-vr\"\nprojection = \"rademacher\"\n\
               n_projections = 1\n\n[train]\nsteps = 2000\nbatch_size = 256\nlr = 0.003\n\
               optimizer = \"adam\"\nweight_decay = 0.0\nschedule = \"constant\"\n\
               eval_every = 100\nkeep_best = true\n\n[sample]\nn = 1000\nsteps = 500\n\
               step_size = 0.002\n";
    let c = from_toml(old).expect("old config parses");
    assert_eq!(c.data.source, "two-moons");
    assert!(c.model.base_sigma.is_infinite());
    assert!(c.validate().is_ok());
    assert_eq!(c.resolved().train.weight_decay, Some(0.0));
}

#[test]
fn unknown_keys_and_values_are_reported_with_their_position() {
    let e = from_toml("[model]\nkind = \"mlp\"\n").expect_err("bad").to_string();
    assert!(e.contains("line 2") && e.contains("mlp-energy"), "{e}");
    let e = from_toml("[objective]\nkind = \"ssm-rv\"\n").expect_err("bad").to_string();
    assert!(e.contains("did you mean 'ssm-vr'"), "{e}");
    let e = from_toml("[train]\nsteps = 3\nspeed = 1\n").expect_err("bad").to_string();
    assert!(e.contains("speed") && e.contains("line 3"), "{e}");
    let c = from_toml("[objective]\nkind = \"ssm_vr\"\n").expect("alias");
    assert_eq!(c.objective.kind, Some(ObjectiveKind::SsmVr));
}

#[test]
fn fields_map_to_their_flags_and_help_shows_the_library_defaults() {
    assert_eq!(flag_for("train.batch_size").as_deref(), Some("--batch-size"));
    assert_eq!(flag_for("data.source").as_deref(), Some("--data"));
    assert_eq!(flag_for("model.kind").as_deref(), Some("--model"));
    assert_eq!(flag_for("objective.kind").as_deref(), Some("--objective"));
    assert_eq!(flag_for("train.epochs").as_deref(), Some("--epochs"));
    assert_eq!(flag_for("threads").as_deref(), Some("--threads"));
    assert_eq!(flag_for("sample.n"), None);
    let mut cmd = RunFlags::augment_args(Command::new("train"));
    let help = cmd.render_help().to_string();
    for shown in
        ["[default: 256]", "[default: 0.003]", "[default: 64,64]", "[default: eight-gaussians]"]
    {
        assert!(help.contains(shown), "help lacks {shown}:\n{help}");
    }
    assert!(help.contains("rademacher") && help.contains("ssm-vr"), "{help}");
}
