//! Faults lose nothing: outputs are never overwritten without `--force` (and never when they
//! are inputs), signals stop a run with everything saved, closed pipes do not panic, and a
//! stopped or killed run resumes to the same bytes as the run that was never stopped.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::{read_csv, run_in, tempdir, train_small};
use scorematch::saved::SavedModel;
use scorematch::train::{HeldKind, StopReason};

/// The training flags of the runs that are stopped and resumed (with `--steps 1500`: long
/// enough to be stopped part-way), with validation so that the best step and the
/// early-stopping state matter.
const RUN: [&str; 10] = [
    "train",
    "--data",
    "two-moons",
    "--hidden",
    "32,32",
    "--eval-every",
    "25",
    "--seed",
    "11",
    "--no-plots",
];

/// Starts `scorematch RUN… extra…` in `dir` with stderr piped.
fn spawn(dir: &Path, extra: &[&str]) -> Child {
    common::bin()
        .current_dir(dir)
        .args(RUN)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn")
}

/// Reads the child's stderr until a progress line of step ≥ `step`, sends `signal`, and
/// returns the exit status and the rest of stderr.
fn signal_at(mut child: Child, step: usize, signal: &str) -> (Option<i32>, String) {
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let reached = line
            .strip_prefix("step ")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n >= step);
        seen.push(line);
        if reached {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    seen.extend(lines.map(|l| l.expect("line")));
    (child.wait().expect("wait").code(), seen.join("\n"))
}

/// The bytes of `dir/file`.
fn bytes(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// The names in `dir` that start with a dot (partial files of atomic writes).
fn hidden_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The run that is never stopped, in `dir/name`.
fn uninterrupted(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let mut args = RUN.to_vec();
    args.extend(["--steps", "1500", "--out", name]);
    run_in(dir, &args).ok();
    out
}

#[test]
fn sigterm_and_sighup_stop_with_the_run_saved_and_resume_bit_for_bit() {
    let dir = tempdir();
    let reference = uninterrupted(dir.path(), "reference");
    for (signal, code, step) in [("TERM", 143, 300), ("HUP", 129, 700)] {
        let name = format!("stopped-{signal}");
        let child = spawn(dir.path(), &["--steps", "1500", "--log-every", "1", "--out", &name]);
        let (status, stderr) = signal_at(child, step, signal);
        assert_eq!(status, Some(code), "{stderr}");
        assert!(stderr.contains(&format!("interrupted by SIG{signal} after step")), "{stderr}");
        let run = dir.path().join(&name);
        // Everything is saved and says which step it holds.
        let last = SavedModel::load(run.join("last.safetensors")).expect("last loads");
        let record = last.training.expect("record");
        assert_eq!(record.stop, StopReason::Interrupted);
        let done = record.steps_done;
        assert!((step..1500).contains(&done), "stopped at {done}");
        assert_eq!(record.held.map(|h| (h.step, h.kind)), Some((done, HeldKind::Last)));
        let kept = SavedModel::load(run.join("checkpoint.safetensors")).expect("checkpoint loads");
        let held = kept.training.expect("record").held.expect("held");
        assert_eq!(held.kind, HeldKind::Best);
        assert!(held.step <= done && held.step.is_multiple_of(25), "{held:?}");
        let (_, rows) = read_csv(&run.join("metrics.csv"));
        assert_eq!(rows.len(), done);
        assert!(run.join("config.toml").exists());
        assert!(hidden_files(&run).is_empty(), "{:?}", hidden_files(&run));
        // Resumed, it ends exactly where the run that was never stopped ended.
        let r = run_in(dir.path(), &["train", "--resume", &name]);
        r.ok();
        assert!(r.stderr.contains(&format!("from step {done}")), "{}", r.stderr);
        for file in ["checkpoint.safetensors", "last.safetensors", "metrics.csv", "config.toml"] {
            assert!(
                bytes(&run, file) == bytes(&reference, file),
                "{file} differs after SIG{signal}"
            );
        }
    }
}

#[test]
fn a_killed_run_resumes_from_its_last_periodic_save_and_its_leftovers_go() {
    let dir = tempdir();
    let reference = uninterrupted(dir.path(), "reference");
    let child = spawn(
        dir.path(),
        &["--steps", "1500", "--log-every", "1", "--checkpoint-every", "40", "--out", "k"],
    );
    let (status, _) = signal_at(child, 500, "KILL");
    assert_eq!(status, None, "killed by the signal");
    let run = dir.path().join("k");
    let saved = SavedModel::load(run.join("last.safetensors")).expect("a periodic save");
    let record = saved.training.expect("record");
    assert_eq!(record.stop, StopReason::InProgress);
    assert_eq!(record.steps_done % 40, 0);
    // A partial file left by a killed writer (a process id that cannot be running).
    let leftover = run.join(".checkpoint.safetensors.4294967295.0.tmp");
    std::fs::write(&leftover, b"half a checkpoint").expect("write");
    run_in(dir.path(), &["train", "--resume", "k"]).ok();
    assert!(!leftover.exists(), "the leftover partial file is removed");
    // The configurations differ (--checkpoint-every), the tensors and metrics may not.
    assert!(bytes(&run, "metrics.csv") == bytes(&reference, "metrics.csv"));
    for file in ["checkpoint.safetensors", "last.safetensors"] {
        let (a, b) = (
            SavedModel::load(run.join(file)).unwrap(),
            SavedModel::load(reference.join(file)).unwrap(),
        );
        assert!(a.params == b.params && a.resume == b.resume, "{file} differs after SIGKILL");
        assert_eq!(a.training.unwrap().held, b.training.unwrap().held);
    }
}

#[test]
fn a_second_signal_quits_at_once_and_leaves_nothing_partial() {
    let dir = tempdir();
    let mut child = spawn(dir.path(), &["--log-every", "1", "--steps", "10000000", "--out", "r"]);
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.expect("line").starts_with("step 50/") {
            break;
        }
    }
    let pid = child.id().to_string();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}; kill -INT {pid}")])
        .status()
        .expect("kill");
    let _: Vec<_> = lines.collect();
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    let run = dir.path().join("r");
    assert!(hidden_files(&run).is_empty(), "{:?}", hidden_files(&run));
    for file in ["checkpoint.safetensors", "last.safetensors"] {
        if run.join(file).exists() {
            SavedModel::load(run.join(file)).expect("whatever was written is whole");
        }
    }
}

#[test]
fn a_closed_stderr_does_not_stop_the_run() {
    let dir = tempdir();
    let mut child = spawn(dir.path(), &["--log-every", "1", "--steps", "400", "--out", "p"]);
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().expect("a line").expect("text");
    assert!(first.starts_with("training"), "{first}");
    drop(lines); // as `| head -1` does
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let saved = SavedModel::load(dir.path().join("p/checkpoint.safetensors")).expect("loads");
    assert_eq!(saved.training.expect("record").steps_done, 400);
}

#[test]
fn resume_continues_a_finished_run_and_refuses_other_settings() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &["--no-plots"]);
    let r = run_in(dir.path(), &["train", "--resume", "run", "--lr", "0.1"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--lr cannot be changed when resuming"), "{}", r.stderr);
    let r = run_in(dir.path(), &["train", "--resume", "run"]);
    r.expect_code(2);
    assert!(r.stderr.contains("already completed its 30 steps"), "{}", r.stderr);
    let r = run_in(dir.path(), &["train", "--resume", "run", "--steps", "45"]);
    r.ok();
    assert!(r.stderr.contains("steps 31 to 45"), "{}", r.stderr);
    let (_, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(rows.len(), 45);
    assert!(std::fs::read_to_string(run.join("config.toml")).unwrap().contains("steps = 45"));
    let r = run_in(dir.path(), &["train", "--resume", "nowhere"]);
    r.expect_code(2);
    assert!(r.stderr.contains("no last.safetensors"), "{}", r.stderr);
}

#[test]
fn outputs_are_not_overwritten_without_force_and_inputs_never() {
    let dir = tempdir();
    let d = dir.path();
    let run = train_small(d, "run", &["--no-plots"]);
    let ck = run.join("checkpoint.safetensors");
    let ck_s = ck.to_str().unwrap();
    let ck_before = std::fs::read(&ck).unwrap();
    std::fs::write(d.join("data.csv"), "x0,x1\n0.1,0.2\n0.3,-0.4\n").unwrap();
    std::fs::write(d.join("taken.csv"), "precious\n").unwrap();
    std::fs::write(d.join("taken.png"), "precious\n").unwrap();
    std::fs::write(d.join("taken.safetensors"), "precious\n").unwrap();
    let refused = |args: &[&str], words: &[&str]| {
        let r = run_in(d, args);
        r.expect_code(2);
        assert!(words.iter().all(|w| r.stderr.contains(w)), "{args:?}: {}", r.stderr);
    };
    let exists = ["already exists", "--force"];
    refused(&["score", "--checkpoint", ck_s, "--data", "data.csv", "--out", "taken.csv"], &exists);
    refused(&["sample", "--checkpoint", ck_s, "--n", "10", "--out", "taken.csv"], &exists);
    refused(
        &["sample", "--checkpoint", ck_s, "--n", "10", "--out", "s.csv", "--plot", "taken.png"],
        &["--plot", "already exists"],
    );
    refused(&["init", "--input-dim", "2", "--out", "taken.safetensors"], &exists);
    refused(
        &[
            "loss",
            "--checkpoint",
            ck_s,
            "--data",
            "data.csv",
            "--objective",
            "esm",
            "--grad-out",
            "taken.safetensors",
        ],
        &exists,
    );
    // An output that is an input is refused even with --force.
    let input = ["is also an input"];
    refused(
        &["score", "--checkpoint", ck_s, "--data", "data.csv", "--out", "data.csv", "--force"],
        &input,
    );
    refused(
        &["score", "--checkpoint", ck_s, "--data", "data.csv", "--out", "./data.csv", "--force"],
        &input,
    );
    refused(
        &[
            "loss",
            "--checkpoint",
            ck_s,
            "--data",
            "data.csv",
            "--objective",
            "esm",
            "--grad-out",
            ck_s,
            "--force",
        ],
        &input,
    );
    std::fs::copy(d.join("data.csv"), d.join("metrics.csv")).unwrap();
    refused(
        &["train", "--data", "metrics.csv", "--out", ".", "--force", "--batch-size", "2"],
        &input,
    );
    // Wrong extensions for the format written.
    refused(
        &["init", "--input-dim", "2", "--out", "model.pt"],
        &["--out model.pt", ".safetensors"],
    );
    refused(&["sample", "--checkpoint", ck_s, "--out", "s.csv", "--plot", "s.jpg"], &[".png"]);
    for file in ["taken.csv", "taken.png", "taken.safetensors"] {
        assert_eq!(std::fs::read(d.join(file)).unwrap(), b"precious\n", "{file}");
    }
    assert_eq!(std::fs::read(&ck).unwrap(), ck_before);
    assert_eq!(std::fs::read_to_string(d.join("data.csv")).unwrap(), "x0,x1\n0.1,0.2\n0.3,-0.4\n");
    // With --force an existing output is replaced.
    run_in(
        d,
        &["score", "--checkpoint", ck_s, "--data", "data.csv", "--out", "taken.csv", "--force"],
    )
    .ok();
    assert_ne!(std::fs::read(d.join("taken.csv")).unwrap(), b"precious\n");
}
