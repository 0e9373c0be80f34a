//! `mpirun -np 2 scorematch train --distributed` (issue 12 items 3 and 4): two ranks give
//! the same checkpoint bits run to run, the parameters of one process with the same global
//! batch up to floating-point summation order, and resume bit for bit; a refused setting is
//! reported once. Skipped, with the reason printed, unless the binary was built with the
//! `mpi` feature and `mpirun` is on the PATH (`.ci/run` installs Open MPI and runs these).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Run, s, tempdir};
use scorematch::saved::SavedModel;

/// The largest relative difference allowed between the parameters of 2 ranks and of one
/// process after 500 steps in f64 (measured: see `docs/distributed.md`). Relative to
/// max(|a|, |b|, 1e-3), so that parameters near zero compare absolutely.
const TOLERANCE: f64 = 1e-9;

/// `mpirun -np <n>`, ready to take the binary and its arguments, or `None` (with the reason
/// printed) when this build or machine cannot run it.
fn mpirun(n: usize) -> Option<Command> {
    if !cfg!(feature = "mpi") {
        eprintln!(
            "skipping: scorematch was built without the `mpi` feature (cargo test -p \
             scorematch-cli --features mpi --test distributed runs these)"
        );
        return None;
    }
    let Ok(version) = Command::new("mpirun").arg("--version").output() else {
        eprintln!("skipping: mpirun is not on the PATH (install openmpi-bin or mpich)");
        return None;
    };
    let mut cmd = Command::new("mpirun");
    // Open MPI refuses root unless told, and more ranks than cores unless oversubscribed.
    if String::from_utf8_lossy(&version.stdout).contains("Open MPI") {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        cmd.arg("--oversubscribe");
    }
    cmd.args(["-np", &n.to_string(), env!("CARGO_BIN_EXE_scorematch")]);
    Some(cmd)
}

fn run(mut cmd: Command, dir: &Path, args: &[&str]) -> Run {
    cmd.current_dir(dir).args(args).output().expect("the command starts").into()
}

const TRAIN: [&str; 8] = ["train", "--steps", "500", "--dtype", "f64", "--no-plots", "--seed", "3"];

fn params(run: &Path) -> Vec<f64> {
    SavedModel::load(run.join("last.safetensors")).expect("last.safetensors loads").params.concat()
}

/// The largest difference between `a` and `b` relative to max(|a|, |b|, 1e-3).
fn max_relative_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-3)).fold(0.0, f64::max)
}

#[test]
fn two_ranks_repeat_bit_for_bit_and_match_one_process_up_to_summation_order() {
    let (Some(a), Some(b)) = (mpirun(2), mpirun(2)) else { return };
    let dir = tempdir();
    let out = |name: &str| dir.path().join(name);
    run(a, dir.path(), &[&TRAIN[..], &["--distributed", "--out", "two-a"]].concat()).ok();
    run(b, dir.path(), &[&TRAIN[..], &["--distributed", "--out", "two-b"]].concat()).ok();
    let single = Command::new(env!("CARGO_BIN_EXE_scorematch"));
    run(single, dir.path(), &[&TRAIN[..], &["--out", "one"]].concat()).ok();
    for file in ["last.safetensors", "checkpoint.safetensors", "metrics.csv"] {
        let read = |run: &str| std::fs::read(out(run).join(file)).expect("the file was written");
        assert!(read("two-a") == read("two-b"), "{file}: two runs on 2 ranks differ");
    }
    let (two, one) = (params(&out("two-a")), params(&out("one")));
    let gap = max_relative_gap(&two, &one);
    eprintln!("2 ranks vs 1 process after 500 steps (f64): max relative difference {gap:e}");
    assert!(gap <= TOLERANCE, "2 ranks vs 1 process: {gap:e} > {TOLERANCE:e}");
    assert!(two != one || gap == 0.0);
}

#[test]
fn two_ranks_reading_their_rows_from_a_npy_file_match_one_process_holding_them() {
    let Some(two) = mpirun(2) else { return };
    let dir = tempdir();
    let data = scorematch::data::ToyDensity::TwoMoons.sample_seeded(2000, 4);
    scorematch::data::save_npy(dir.path().join("moons.npy"), &data).expect("the data is written");
    let args = ["train", "--data", "moons.npy", "--steps", "300", "--dtype", "f64", "--seed", "3"];
    // The ranks read their rows from the file, and rank 0 draws the figures from it.
    let r = run(two, dir.path(), &[&args[..], &["--distributed", "--out", "two"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("each rank reads the rows of its part"), "{}", r.stderr);
    assert!(dir.path().join("two/samples.png").exists(), "the figures are drawn");
    let single = Command::new(env!("CARGO_BIN_EXE_scorematch"));
    run(single, dir.path(), &[&args[..], &["--no-plots", "--out", "one"]].concat()).ok();
    let (two, one) = (params(&dir.path().join("two")), params(&dir.path().join("one")));
    let gap = max_relative_gap(&two, &one);
    eprintln!("2 ranks reading the file vs 1 process holding it: max relative difference {gap:e}");
    assert!(gap <= TOLERANCE, "{gap:e} > {TOLERANCE:e}");
}

#[test]
fn a_bad_row_in_one_ranks_share_stops_every_rank_naming_it() {
    let Some(two) = mpirun(2) else { return };
    let dir = tempdir();
    let mut rows = vec![0.5; 400];
    rows[399] = f64::NAN; // file row 200, column 2: in the share of one of the ranks
    let data = scorematch::data::Dataset::from_flat(200, 2, rows).expect("rows");
    scorematch::data::save_npy(dir.path().join("bad.npy"), &data).expect("the data is written");
    let args = ["train", "--distributed", "--data", "bad.npy", "--val-fraction", "0"];
    let r = run(two, dir.path(), &[&args[..], &["--steps", "5", "--no-plots"]].concat());
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr.matches("failed: ").count(), 1, "one message:\n{}", r.stderr);
    assert!(r.stderr.contains("row 200, column 2"), "{}", r.stderr);
    assert!(!dir.path().join("runs").exists(), "nothing is written");
}

#[test]
fn a_distributed_run_resumes_bit_for_bit_on_the_same_ranks() {
    let (Some(a), Some(b), Some(c)) = (mpirun(2), mpirun(2), mpirun(2)) else { return };
    let dir = tempdir();
    let args = ["train", "--distributed", "--dtype", "f64", "--no-plots", "--steps"];
    run(a, dir.path(), &[&args[..], &["300", "--out", "whole"]].concat()).ok();
    run(b, dir.path(), &[&args[..], &["120", "--out", "parts"]].concat()).ok();
    let parts = dir.path().join("parts");
    run(c, dir.path(), &["train", "--resume", s(&parts), "--steps", "300"]).ok();
    assert_eq!(params(&dir.path().join("whole")), params(&parts));
}

#[test]
fn a_refused_setting_is_reported_once_for_all_ranks() {
    let Some(cmd) = mpirun(2) else { return };
    let dir = tempdir();
    let r = run(cmd, dir.path(), &["train", "--distributed", "--batch-size", "1", "--steps", "2"]);
    assert_ne!(r.code, 0);
    let said = r.stderr.matches("--batch-size 1: must be at least the 2 ranks").count();
    assert_eq!(said, 1, "one message for both ranks:\n{}", r.stderr);
    assert!(r.stderr.contains("error: rank 0 failed: "), "{}", r.stderr);
    assert!(!dir.path().join("runs").exists(), "nothing is written");
}

#[test]
fn without_the_feature_distributed_says_how_to_build_it() {
    if cfg!(feature = "mpi") {
        eprintln!("skipping: this build has the `mpi` feature");
        return;
    }
    let dir = tempdir();
    let r = common::run_in(dir.path(), &["train", "--distributed", "--steps", "2"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--features mpi") && r.stderr.contains("mpirun"), "{}", r.stderr);
    assert!(!dir.path().join("runs").exists(), "nothing is written");
}
