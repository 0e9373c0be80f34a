//! Requests the tool cannot serve, refused clearly: requests too large for the machine are
//! refused with their size, unreliable estimates are shown as such, every held-out row
//! counts, errors name the command's own flags, and a configuration file names its data.

mod common;

use common::{run_in, s, tempdir, train_small};

#[test]
fn a_model_too_large_for_memory_is_refused_with_its_size() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &["train", "--hidden", "10000000,10000000", "--steps", "1", "--out", "huge"],
    );
    r.expect_code(2);
    let line = r.stderr.trim();
    assert!(line.starts_with("error: --hidden 10000000,10000000: "), "{line}");
    assert!(line.contains("needs 1.1 PiB of memory") && line.contains("available"), "{line}");
    assert!(!line.contains("panicked") && !line.contains("backtrace"), "{line}");
    assert!(!dir.path().join("huge").exists(), "nothing is written for a refused run");
}

#[test]
fn a_built_in_draw_too_large_for_memory_is_refused_with_its_size() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["train", "--n-samples", "100000000000", "--out", "huge"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--n-samples 100000000000: drawing the data needs"), "{}", r.stderr);
    assert!(!dir.path().join("huge").exists());
}

#[test]
fn chains_too_many_for_memory_are_refused_naming_n() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &["--no-plots"]);
    let ck = run.join("checkpoint.safetensors");
    let r = run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&ck), "--n", "100000000000", "--out", "s.csv"],
    );
    r.expect_code(2);
    let line = r.stderr.trim();
    assert!(line.starts_with("error: --n 100000000000: sampling needs "), "{line}");
    assert!(line.contains("TiB of memory") && line.ends_with("available: lower --n"), "{line}");
    assert!(!line.contains("n-chains") && !line.contains("n_chains"), "{line}");
    // A setting refused on its own is worded with sample's flag too.
    let r = run_in(dir.path(), &["sample", "--checkpoint", s(&ck), "--n", "0", "--out", "s.csv"]);
    r.expect_code(2);
    assert_eq!(r.stderr.trim(), "error: --n 0: must be at least 1");
}

#[test]
fn an_importance_estimate_with_too_few_effective_draws_is_shown_as_unreliable() {
    let dir = tempdir();
    // A model far narrower than the data: almost no proposal draw lands where it has mass.
    let ck = dir.path().join("narrow.safetensors");
    let args = ["init", "--input-dim", "3", "--hidden", "8", "--base-sigma", "0.01"];
    run_in(dir.path(), &[&args[..], &["--out", s(&ck)]].concat()).ok();
    let rows: Vec<f64> = (0..600).map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0).collect();
    let data = dir.path().join("x.npy");
    common::write_npy(&data, &rows, 3);
    let r = run_in(dir.path(), &["eval", "--checkpoint", s(&ck), "--data", s(&data)]);
    r.ok();
    let line = r.stdout.lines().find(|l| l.starts_with("log-likelihood")).expect("a likelihood");
    assert!(line.contains("UNRELIABLE") && line.contains("effective sample size"), "{line}");
    assert!(!line.contains('±'), "{line}");
    // Every held-out row counts: 200 rows are not a multiple of the batch of 256 … nor 128.
    let heldout = r.stdout.lines().find(|l| l.starts_with("held-out")).expect("held-out");
    assert!(heldout.contains("(200 rows;"), "{heldout}");
    let r = run_in(dir.path(), &["eval", "--checkpoint", s(&ck), "--data", s(&data), "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["log_likelihood"]["reliable"], serde_json::Value::Bool(false));
}

#[test]
fn a_configuration_file_must_name_its_data() {
    let dir = tempdir();
    std::fs::write(dir.path().join("c.toml"), "[train]\nsteps = 5\n").expect("written");
    let r = run_in(dir.path(), &["train", "--config", "c.toml", "--out", "r", "--no-plots"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("c.toml names no data") && r.stderr.contains("--data"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("r").exists());
    // The flag names it, or the file does.
    let flags = ["--out", "r", "--no-plots", "--n-samples", "600", "--hidden", "8"];
    let with_data = [&["train", "--config", "c.toml", "--data", "rings"][..], &flags].concat();
    run_in(dir.path(), &with_data).ok();
}

#[test]
fn a_configuration_files_data_path_is_relative_to_its_folder() {
    let dir = tempdir();
    let configs = dir.path().join("configs");
    std::fs::create_dir_all(configs.join("data")).expect("folders");
    let rows: Vec<f64> = (0..400).map(|i| ((i * 53 % 97) as f64 - 48.0) / 20.0).collect();
    common::write_npy(&configs.join("data/x.npy"), &rows, 2);
    let text = "[data]\nsource = \"data/x.npy\"\n[model]\nhidden = [8]\n[train]\nsteps = 3\nbatch_size = 64\n";
    std::fs::write(configs.join("c.toml"), text).expect("written");
    // Run from the temporary folder: data/x.npy is not there, but beside the file.
    let r =
        run_in(dir.path(), &["train", "--config", "configs/c.toml", "--out", "r", "--no-plots"]);
    r.ok();
    // A path typed as a flag stays relative to the working directory.
    let r = run_in(
        dir.path(),
        &["train", "--config", "configs/c.toml", "--data", "data/x.npy", "--out", "r2"],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("cannot load the data 'data/x.npy'"), "{}", r.stderr);
    // Built-in names stay names.
    std::fs::write(
        configs.join("b.toml"),
        "[data]\nsource = \"rings\"\nn_samples = 500\n[model]\nhidden = [8]\n[train]\nsteps = 3\n",
    )
    .expect("written");
    run_in(dir.path(), &["train", "--config", "configs/b.toml", "--out", "r3", "--no-plots"]).ok();
}
