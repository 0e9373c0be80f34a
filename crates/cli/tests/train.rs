//! End-to-end runs of `scorematch train`: the files of a run folder, reproducibility through
//! `--config`, progress output, Ctrl-C, divergence and bad input.

mod common;

use common::{check_png, read_csv, run_in, s, tempdir, train_small};
use scorematch::saved::SavedModel;

const WIDE: (u32, u32) = (1200, 600);
const SINGLE: (u32, u32) = (800, 600);

/// The README's first command, unchanged: every file, sensible contents.
#[test]
fn default_train_writes_a_complete_run_folder() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["train", "--out", "run"]);
    r.ok();
    let run = dir.path().join("run");
    let saved = SavedModel::load(run.join("checkpoint.safetensors")).expect("checkpoint loads");
    assert_eq!(saved.config.kind_name(), "mlp-energy");
    assert_eq!(saved.config.model().dim(), 2);
    assert_eq!(saved.dtype, scorematch_graph::DType::F32);
    let st = saved.standardizer.as_ref().expect("standardisation saved");
    assert!(
        st.std.iter().all(|s| (2.0..3.5).contains(s)),
        "eight Gaussians have sd ≈ 2.85: {st:?}"
    );
    let training = saved.training.as_ref().expect("training record");
    assert_eq!(training.steps_done, 2000);
    assert_eq!(training.objective.name(), "ssm-vr");

    let (header, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(header, ["step", "epoch", "loss", "val_loss", "grad_norm", "lr"]);
    assert_eq!(rows.len(), 2000);
    assert_eq!(rows[1999][0], 2000.0);
    let val: Vec<f64> = rows.iter().map(|r| r[3]).filter(|v| v.is_finite()).collect();
    assert_eq!(val.len(), 20, "validation every 100 steps");
    // Score matching's loss falls far below its starting value as the model sharpens.
    assert!(val[19] < val[0] - 10.0, "validation loss {val:?}");

    let config = std::fs::read_to_string(run.join("config.toml")).expect("config");
    for line in [
        "kind = \"mlp-energy\"",
        "hidden = [64, 64]",
        "steps = 2000",
        "lr = 0.003",
        "source = \"eight-gaussians\"",
    ] {
        assert!(config.contains(line), "config.toml lacks {line}:\n{config}");
    }
    check_png(&run.join("density.png"), WIDE);
    check_png(&run.join("samples.png"), WIDE);
    check_png(&run.join("score.png"), SINGLE);
    check_png(&run.join("loss.png"), SINGLE);
    assert!(r.stderr.contains("step 2000/2000"), "{}", r.stderr);
    assert!(r.stderr.contains("wrote"), "{}", r.stderr);
}

#[test]
fn config_file_repeats_a_run_bit_for_bit_and_flags_override_it() {
    let dir = tempdir();
    let a = train_small(
        dir.path(),
        "a",
        &["--seed", "7", "--data", "two-moons", "--no-plots", "--lr", "0.01"],
    );
    let config = a.join("config.toml");
    run_in(dir.path(), &["train", "--config", s(&config), "--out", "b"]).ok();
    let b = dir.path().join("b");
    for file in ["checkpoint.safetensors", "metrics.csv", "config.toml"] {
        let (x, y) =
            (std::fs::read(a.join(file)).expect("a"), std::fs::read(b.join(file)).expect("b"));
        assert!(x == y, "{file} differs between the run and its --config repeat");
    }
    assert!(!b.join("loss.png").exists(), "plots = false is part of the configuration");
    // A flag wins over the file.
    run_in(dir.path(), &["train", "--config", s(&config), "--out", "c", "--steps", "12"]).ok();
    let (_, rows) = read_csv(&dir.path().join("c/metrics.csv"));
    assert_eq!(rows.len(), 12);
    let c = std::fs::read_to_string(dir.path().join("c/config.toml")).expect("config");
    assert!(c.contains("steps = 12") && c.contains("source = \"two-moons\""), "{c}");
    // A different seed gives a different run.
    run_in(dir.path(), &["train", "--config", s(&config), "--out", "d", "--seed", "8"]).ok();
    assert_ne!(
        std::fs::read(a.join("metrics.csv")).expect("a"),
        std::fs::read(dir.path().join("d/metrics.csv")).expect("d")
    );
}

#[test]
fn plain_progress_lines_when_not_a_terminal_and_quiet_silences() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &[
            "train",
            "--steps",
            "30",
            "--hidden",
            "8",
            "--n-samples",
            "1000",
            "--no-plots",
            "--log-every",
            "10",
            "--out",
            "a",
        ],
    );
    r.ok();
    for step in ["step 10/30  loss", "step 20/30  loss", "step 30/30  loss"] {
        assert!(r.stderr.contains(step), "{}", r.stderr);
    }
    assert!(!r.stderr.contains("step 15/30"));
    let r = run_in(
        dir.path(),
        &["train", "-q", "--steps", "30", "--hidden", "8", "--n-samples", "1000", "--out", "b"],
    );
    r.ok();
    assert_eq!(r.stderr, "");
    assert!(dir.path().join("b/loss.png").exists());
}

#[test]
fn score_networks_skip_the_density_plot_with_a_note() {
    let dir = tempdir();
    for (model, extra) in [("mlp-score", vec![]), ("ncsn-score", vec!["--levels", "4"])] {
        let out = dir.path().join(model);
        let mut args = vec![
            "train",
            "--model",
            model,
            "--steps",
            "30",
            "--hidden",
            "16,16",
            "--n-samples",
            "2000",
            "--out",
            s(&out),
        ];
        args.extend(extra);
        let r = run_in(dir.path(), &args);
        r.ok();
        assert!(r.stderr.contains("density.png skipped"), "{}", r.stderr);
        assert!(!out.join("density.png").exists());
        check_png(&out.join("score.png"), SINGLE);
        check_png(&out.join("samples.png"), WIDE);
        let saved = SavedModel::load(out.join("checkpoint.safetensors")).expect("loads");
        assert_eq!(saved.config.kind_name(), model);
    }
    let saved =
        SavedModel::load(dir.path().join("ncsn-score/checkpoint.safetensors")).expect("loads");
    let training = saved.training.expect("record");
    assert_eq!(training.objective.name(), "ms-dsm");
    assert_eq!(training.ladder().map(|l| l.levels), Some(4));
}

#[test]
fn every_model_and_objective_trains_from_flags() {
    let dir = tempdir();
    let cases: &[&[&str]] = &[
        &["--model", "nice", "--objective", "mle", "--couplings", "2"],
        &["--model", "gaussian", "--objective", "esm", "--dtype", "f64"],
        &[
            "--objective",
            "ssm",
            "--projection",
            "sphere",
            "--n-projections",
            "2",
            "--activation",
            "tanh",
        ],
        &[
            "--objective",
            "dsm",
            "--sigma",
            "0.2",
            "--optimizer",
            "sgd",
            "--momentum",
            "0.9",
            "--lr",
            "0.01",
        ],
        &[
            "--optimizer",
            "adamw",
            "--weight-decay",
            "0.1",
            "--schedule",
            "cosine",
            "--warmup-steps",
            "5",
        ],
        &[
            "--schedule",
            "step",
            "--lr-step-size",
            "10",
            "--lr-gamma",
            "0.5",
            "--clip-grad-norm",
            "1",
            "--threads",
            "2",
        ],
        &[
            "--epochs",
            "2",
            "--batch-size",
            "500",
            "--val-fraction",
            "0.2",
            "--patience",
            "1",
            "--eval-every",
            "1",
        ],
    ];
    for (k, extra) in cases.iter().enumerate() {
        let out = dir.path().join(format!("r{k}"));
        let mut args = vec![
            "train",
            "--hidden",
            "16,16",
            "--n-samples",
            "2000",
            "--no-plots",
            "--out",
            s(&out),
        ];
        if !extra.contains(&"--epochs") {
            args.extend(["--steps", "30"]);
        }
        args.extend(extra.iter());
        run_in(dir.path(), &args).ok();
        let saved = SavedModel::load(out.join("checkpoint.safetensors")).expect("loads");
        assert!(saved.params.iter().flatten().all(|v| v.is_finite()), "{extra:?}");
    }
    // --epochs 2 with 1600 training rows in batches of 500: 3 steps per epoch, unless early stopped.
    let (_, rows) = read_csv(&dir.path().join("r6/metrics.csv"));
    assert!((2..=6).contains(&rows.len()), "{} steps", rows.len());
    let saved = SavedModel::load(dir.path().join("r1/checkpoint.safetensors")).expect("loads");
    assert_eq!(saved.dtype, scorematch_graph::DType::F64);
}

#[test]
fn impossible_combinations_and_bad_values_are_usage_errors() {
    let dir = tempdir();
    let cases: &[(&[&str], &str)] = &[
        (&["--objective", "mle", "--model", "mlp-energy"], "use --model nice or gaussian"),
        (&["--objective", "ms-dsm"], "use --model ncsn-score"),
        (&["--model", "ncsn-score", "--objective", "ssm"], "--objective ms-dsm"),
        (&["--objective", "foo"], "[possible values: esm, ssm, ssm-vr, dsm, ms-dsm, mle]"),
        (&["--hidden", "64,0"], "--hidden"),
        (&["--lr=-1"], "--lr"),
        (&["--steps", "3", "--epochs", "2"], "--epochs"),
        (&["--batch-size", "5000", "--n-samples", "100"], "lower --batch-size"),
        (&["--data", "no-such-dataset"], "eight-gaussians"),
    ];
    for (args, needle) in cases {
        let r = run_in(dir.path(), &[&["train", "--out", "x"], *args].concat());
        r.expect_code(2);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    assert!(!dir.path().join("x/checkpoint.safetensors").exists());
    // An invalid configuration file: its line, the key, the valid values.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "seed = 1\n[objective]\nkind = \"sliced\"\n").expect("write");
    let r = run_in(dir.path(), &["train", "--config", s(&bad)]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("bad.toml") && r.stderr.contains("line 3") && r.stderr.contains("ssm-vr"),
        "{}",
        r.stderr
    );
    std::fs::write(&bad, "[train]\nspeed = 1\n").expect("write");
    let r = run_in(dir.path(), &["train", "--config", s(&bad)]);
    r.expect_code(2);
    assert!(r.stderr.contains("unknown field `speed`"), "{}", r.stderr);
}

#[test]
fn malformed_csv_is_reported_with_file_line_and_column() {
    let dir = tempdir();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,oops\n").expect("write");
    let r = run_in(dir.path(), &["train", "--data", s(&csv), "--out", "x"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("bad.csv:3:2") && r.stderr.contains("'oops' is not a number"),
        "{}",
        r.stderr
    );
    std::fs::write(&csv, "a,b\n1,2\n3\n").expect("write");
    let r = run_in(dir.path(), &["train", "--data", s(&csv), "--out", "x"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("bad.csv:3:") && r.stderr.contains("fields"), "{}", r.stderr);
}

#[test]
fn csv_and_npy_data_train_with_standardisation_saved() {
    let dir = tempdir();
    let rows: Vec<f64> = (0..600)
        .flat_map(|i| {
            let t = i as f64 * 0.1;
            [100.0 + 10.0 * t.sin(), -5.0 + 0.5 * t.cos(), t % 3.0]
        })
        .collect();
    let npy = dir.path().join("x.npy");
    common::write_npy(&npy, &rows, 3);
    let out = train_small(dir.path(), "n", &["--data", s(&npy), "--batch-size", "64"]);
    let saved = SavedModel::load(out.join("checkpoint.safetensors")).expect("loads");
    assert_eq!(saved.config.model().dim(), 3);
    let st = saved.standardizer.expect("standardised");
    assert!((st.mean[0] - 100.0).abs() < 2.0 && st.std[0] > 5.0, "{st:?}");
    assert!(
        out.join("loss.png").exists() && !out.join("density.png").exists(),
        "3-D data: only the loss plot"
    );
    let csv = dir.path().join("x.csv");
    let text: String = std::iter::once("u,v,w\n".to_string())
        .chain(rows.chunks(3).map(|r| format!("{},{},{}\n", r[0], r[1], r[2])))
        .collect();
    std::fs::write(&csv, text).expect("write");
    let out = train_small(
        dir.path(),
        "c",
        &["--data", s(&csv), "--batch-size", "64", "--no-standardize", "--no-plots"],
    );
    let saved = SavedModel::load(out.join("checkpoint.safetensors")).expect("loads");
    assert!(saved.standardizer.is_none());
}

#[test]
fn an_existing_run_is_not_overwritten_without_force() {
    let dir = tempdir();
    let out = train_small(dir.path(), "a", &["--no-plots"]);
    let before = std::fs::read(out.join("checkpoint.safetensors")).expect("read");
    let r = run_in(dir.path(), &["train", "--steps", "5", "--out", s(&out)]);
    r.expect_code(2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("checkpoint.safetensors")).expect("read"), before);
    run_in(
        dir.path(),
        &["train", "--steps", "5", "--hidden", "4", "--out", s(&out), "--force", "--no-plots"],
    )
    .ok();
    assert_ne!(std::fs::read(out.join("checkpoint.safetensors")).expect("read"), before);
    // --name puts the run under runs/.
    run_in(dir.path(), &["train", "--steps", "5", "--hidden", "4", "--name", "mine", "--no-plots"])
        .ok();
    assert!(dir.path().join("runs/mine/checkpoint.safetensors").exists());
}

#[test]
fn a_diverging_run_keeps_the_last_good_checkpoint_and_fails() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &[
            "train",
            "--optimizer",
            "sgd",
            "--lr",
            "1e9",
            "--hidden",
            "8",
            "--steps",
            "100",
            "--out",
            "nf",
        ],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("non-finite") && r.stderr.contains("lower --lr"), "{}", r.stderr);
    let saved = SavedModel::load(dir.path().join("nf/checkpoint.safetensors")).expect("loads");
    assert!(saved.params.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(
        match saved.training.expect("record").stop {
            scorematch::train::StopReason::NonFinite { step } => Some(step > 1),
            _ => None,
        },
        Some(true)
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_last_completed_step() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempdir();
    let mut child = common::bin()
        .current_dir(dir.path())
        .args([
            "train",
            "--steps",
            "10000000",
            "--hidden",
            "8",
            "--log-every",
            "20",
            "--out",
            "run",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    // Wait until training is under way.
    for line in lines.by_ref() {
        if line.expect("line").starts_with("step ") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.expect("line")).collect();
    let code = child.wait().expect("wait").code();
    assert_eq!(code, Some(130), "{rest:?}");
    let message = rest.join("\n");
    assert!(
        message.contains("interrupted by SIGINT after step")
            && message.contains("checkpoint.safetensors"),
        "{message}"
    );
    let run = dir.path().join("run");
    let saved = SavedModel::load(run.join("checkpoint.safetensors")).expect("loads");
    let done = saved.training.expect("record").steps_done as u64;
    let (_, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(rows.len() as u64, done);
    assert!((20..10_000_000).contains(&done));
}

/// `--force` into an old run folder leaves no figure of the old run behind.
#[test]
fn a_forced_rerun_removes_the_old_runs_figures() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &[]);
    assert!(run.join("density.png").exists());
    let again = run_in(
        dir.path(),
        &[
            "train",
            "--steps",
            "5",
            "--hidden",
            "8",
            "--out",
            s(&run),
            "--force",
            "--no-plots",
            "-q",
        ],
    );
    again.ok();
    assert!(run.join("checkpoint.safetensors").exists());
    for f in ["density.png", "score.png", "samples.png", "loss.png"] {
        assert!(!run.join(f).exists(), "{f} of the old run is still there");
    }
}
