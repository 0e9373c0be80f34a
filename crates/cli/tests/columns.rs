//! Choosing the data's columns (`--columns`, `--drop-columns`) and checking them against the
//! columns a checkpoint was trained on (issue 8, item 5).

mod common;

use std::path::{Path, PathBuf};

use common::{Run, read_csv, run_in, s, tempdir, write_npy};
use scorematch::checkpoint::Checkpoint;
use scorematch::saved::METADATA_KEY;

/// `rows` rows of columns `a, label, b`: two continuous columns around a discrete one.
fn write_data(path: &Path, rows: usize) {
    let mut text = String::from("a,label,b\n");
    let mut state = 12_345u64;
    let mut uniform = || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..rows {
        let a = 4.0 * uniform() - 2.0;
        let b = 0.5 * a + uniform();
        text.push_str(&format!("{a},{},{b}\n", i % 3));
    }
    std::fs::write(path, text).expect("data written");
}

/// Trains a small model on `data` with `extra` flags into `dir/name`; the run's output.
fn train(dir: &Path, data: &Path, name: &str, extra: &[&str]) -> (PathBuf, Run) {
    let out = dir.join(name);
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--steps",
        "20",
        "--hidden",
        "8",
        "--batch-size",
        "64",
        "--no-plots",
        "--out",
        s(&out),
    ];
    args.extend_from_slice(extra);
    let run = run_in(dir, &args);
    (out.join("checkpoint.safetensors"), run)
}

/// `score` of `data` under `ck` into `dir/out`, with `extra` flags.
fn score(dir: &Path, ck: &Path, data: &Path, out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["score", "--checkpoint", s(ck), "--data", s(data), "--out", out];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

#[test]
fn a_model_trained_without_a_column_scores_only_the_columns_it_was_trained_on() {
    let dir = tempdir();
    let p = dir.path();
    let data = p.join("data.csv");
    write_data(&data, 400);
    // All columns: the discrete one is flagged, with the flag that drops it.
    let (_, run) = train(p, &data, "all", &[]);
    run.ok();
    assert!(run.stderr.contains("'label'") && run.stderr.contains("--drop-columns label"));

    let (ck, run) = train(p, &data, "run", &["--drop-columns", "label"]);
    run.ok();
    assert!(!run.stderr.contains("distinct values"), "{}", run.stderr);
    let config = std::fs::read_to_string(p.join("run/config.toml")).expect("config.toml");
    assert!(config.contains("drop_columns = [\"label\"]"), "{config}");

    // The whole file is refused, with the selection that fits.
    let r = score(p, &ck, &data, "x.csv", &[]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("has 3 columns (a, label, b)")
            && r.stderr.contains("takes 2-dimensional data, trained on a, b")
            && r.stderr.contains("--columns a,b"),
        "{}",
        r.stderr
    );
    // By name, by 0-based index or by dropping: the same table, named after the columns.
    score(p, &ck, &data, "names.csv", &["--columns", "a,b"]).ok();
    score(p, &ck, &data, "indices.csv", &["--columns", "0,2"]).ok();
    score(p, &ck, &data, "dropped.npy", &["--drop-columns", "1"]).ok();
    let (header, rows) = read_csv(&p.join("names.csv"));
    assert_eq!(header, ["energy", "log_density", "score_a", "score_b"]);
    assert_eq!(rows.len(), 400);
    assert_eq!(read_csv(&p.join("indices.csv")), (header, rows.clone()));
    let npy = scorematch::data::load_npy(p.join("dropped.npy")).expect("npy");
    assert_eq!(npy.row(7), rows[7].as_slice());

    // eval and loss choose columns the same way.
    let eval = ["eval", "--checkpoint", s(&ck), "--data", s(&data), "--json"];
    run_in(p, &eval).expect_code(2);
    run_in(p, &[&eval[..], &["--drop-columns", "label"]].concat()).ok();
    let loss = ["loss", "--checkpoint", s(&ck), "--data", s(&data), "--objective", "esm"];
    run_in(p, &[&loss[..], &["--columns", "a,b"]].concat()).ok();

    // Samples carry the training columns' names.
    let samples = p.join("samples.csv");
    let sample = ["sample", "--checkpoint", s(&ck), "--n", "20", "--steps", "5"];
    run_in(p, &[&sample[..], &["--out", s(&samples)]].concat()).ok();
    assert_eq!(read_csv(&samples).0, ["a", "b"]);
}

#[test]
fn columns_of_other_names_or_order_are_refused_unless_told_to_ignore_names() {
    let dir = tempdir();
    let p = dir.path();
    let data = p.join("data.csv");
    write_data(&data, 400);
    let (ck, run) = train(p, &data, "run", &["--columns", "a,b"]);
    run.ok();

    // The same columns in another order: both lists shown, and the two ways out.
    let r = score(p, &ck, &data, "x.csv", &["--columns", "b,a"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("columns are b, a but the model was trained on a, b, in that order")
            && r.stderr.contains("--columns a,b")
            && r.stderr.contains("--ignore-column-names"),
        "{}",
        r.stderr
    );
    score(p, &ck, &data, "swapped.csv", &["--columns", "b,a", "--ignore-column-names"]).ok();
    assert_eq!(read_csv(&p.join("swapped.csv")).0, ["energy", "log_density", "score_b", "score_a"]);

    // Other names altogether.
    let other = p.join("other.csv");
    std::fs::write(&other, "x,y\n0.1,0.2\n-0.3,0.4\n").expect("write");
    let r = score(p, &ck, &other, "x.csv", &[]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("columns are x, y but the model was trained on a, b")
            && r.stderr.contains("--ignore-column-names"),
        "{}",
        r.stderr
    );
    score(p, &ck, &other, "other_scores.csv", &["--ignore-column-names"]).ok();
    // A name check cannot excuse another width.
    let r = score(p, &ck, &data, "x.csv", &["--ignore-column-names"]);
    r.expect_code(2);

    // A .npy array has no names: taken by position when its width fits.
    let npy = p.join("x.npy");
    write_npy(&npy, &[0.1, 0.2, -0.3, 0.4], 2);
    score(p, &ck, &npy, "npy_scores.csv", &[]).ok();
    assert_eq!(
        read_csv(&p.join("npy_scores.csv")).0,
        ["energy", "log_density", "score_x0", "score_x1"]
    );
    assert_eq!(read_csv(&p.join("npy_scores.csv")).1, read_csv(&p.join("other_scores.csv")).1);
}

#[test]
fn unknown_repeated_and_conflicting_column_choices_are_usage_errors() {
    let dir = tempdir();
    let p = dir.path();
    let data = p.join("data.csv");
    write_data(&data, 400);
    let (_, r) = train(p, &data, "run", &["--columns", "a,lable"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains(
            "--columns lable: no column is named so: the data's columns are a, label, b \
             (did you mean 'label'?)"
        ),
        "{}",
        r.stderr
    );
    assert!(!p.join("run").exists(), "nothing is written for a refused run");
    let (_, r) = train(p, &data, "run", &["--drop-columns", "a,0"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--drop-columns 0: column 'a' is already listed"), "{}", r.stderr);
    let (_, r) = train(p, &data, "run", &["--drop-columns", "a,label,b"]);
    r.expect_code(2);
    assert!(r.stderr.contains("leaves no column"), "{}", r.stderr);
    let (_, r) = train(p, &data, "run", &["--columns", "a", "--drop-columns", "b"]);
    r.expect_code(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    // In a configuration file, worded with the keys.
    std::fs::write(p.join("c.toml"), "[data]\ncolumns = [\"a\"]\ndrop_columns = [\"b\"]\n")
        .expect("write");
    let (_, r) = train(p, &data, "run", &["--config", "c.toml"]);
    r.expect_code(2);
    assert!(r.stderr.contains("cannot be combined with --columns"), "{}", r.stderr);
}

#[test]
fn checkpoints_without_column_names_take_any_names() {
    let dir = tempdir();
    let p = dir.path();
    let data = p.join("data.csv");
    write_data(&data, 400);
    let (ck, run) = train(p, &data, "run", &["--columns", "a,b"]);
    run.ok();
    // The checkpoint as format version 2 wrote it: no column names.
    let mut old = Checkpoint::load(&ck).expect("checkpoint");
    let mut header: serde_json::Value =
        serde_json::from_str(&old.metadata[METADATA_KEY]).expect("json");
    assert_eq!(header["columns"], serde_json::json!(["a", "b"]));
    header.as_object_mut().expect("object").remove("columns");
    header["format_version"] = 2.into();
    old.metadata.insert(METADATA_KEY.into(), header.to_string());
    let old_ck = p.join("old.safetensors");
    old.save(&old_ck).expect("saved");

    let other = p.join("other.csv");
    std::fs::write(&other, "x,y\n0.1,0.2\n-0.3,0.4\n").expect("write");
    score(p, &old_ck, &other, "old.csv", &[]).ok();
    score(p, &ck, &other, "new.csv", &["--ignore-column-names"]).ok();
    assert_eq!(read_csv(&p.join("old.csv")), read_csv(&p.join("new.csv")));
    // Samples of a model without names are named x0, x1.
    let samples = p.join("samples.csv");
    let sample = ["sample", "--checkpoint", s(&old_ck), "--n", "5", "--steps", "2"];
    run_in(p, &[&sample[..], &["--out", s(&samples)]].concat()).ok();
    assert_eq!(read_csv(&samples).0, ["x0", "x1"]);
}
