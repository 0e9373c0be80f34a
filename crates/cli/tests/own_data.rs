//! Your own data, first try: dequantisation and the logit transform
//! at every stage, early stopping by default on one's own data, `eval` numbers that explain
//! themselves and `eval --run` on a run's own validation rows, energies in the data's space.

mod common;

use std::path::Path;

use common::{read_csv, run_in, s, tempdir};
use scorematch::saved::SavedModel;

/// Writes `rows` (3 columns a, b, c) as a CSV file.
fn write_csv(path: &Path, rows: &[[f64; 3]]) {
    let mut text = String::from("a,b,c\n");
    for r in rows {
        text.push_str(&format!("{},{},{}\n", r[0], r[1], r[2]));
    }
    std::fs::write(path, text).expect("csv written");
}

/// 600 rows of integers in [0, 16], like pixel intensities.
fn pixels() -> Vec<[f64; 3]> {
    (0..600u64)
        .map(|i| {
            let h = |k: u64| ((i * 2654435761 + k * 40503) % 9973) as f64 / 9973.0;
            [
                (16.0 * h(1) * h(2)).round(),
                (8.0 + 8.0 * (h(3) - h(4))).round(),
                (16.0 * h(5)).round(),
            ]
        })
        .collect()
}

#[test]
fn dequantize_and_logit_apply_at_fit_score_eval_and_sample() {
    let dir = tempdir();
    let data = dir.path().join("pixels.csv");
    write_csv(&data, &pixels());
    let base = ["train", "--data", s(&data), "--steps", "30", "--hidden", "16,16", "--no-plots"];

    // Without dequantisation, the note on discrete columns names the remedy.
    let plain = run_in(dir.path(), &[&base[..], &["--out", "plain"]].concat());
    plain.ok();
    assert!(plain.stderr.contains("--dequantize auto"), "{}", plain.stderr);

    let args = ["--dequantize", "auto", "--logit", "--dtype", "f64", "--out", "run"];
    let r = run_in(dir.path(), &[&base[..], &args[..]].concat());
    r.ok();
    assert!(
        !r.stderr.contains("distinct values"),
        "every discrete column is dequantised: {}",
        r.stderr
    );
    let ck = dir.path().join("run/checkpoint.safetensors");
    let saved = SavedModel::load(&ck).expect("checkpoint");
    let t = saved.transform.as_ref().expect("the transform is stored");
    assert_eq!(t.dequantize, vec![1.0; 3]);
    let b = t.logit.as_ref().expect("a logit box");
    // Each column's range, widened by half a cell.
    for j in 0..3 {
        let column = pixels().iter().map(|r| r[j]).collect::<Vec<_>>();
        let min = column.iter().copied().fold(f64::INFINITY, f64::min);
        let max = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((b.lo[j], b.hi[j]), (min - 0.5, max + 0.5), "column {j}");
    }
    let config = std::fs::read_to_string(dir.path().join("run/config.toml")).expect("config");
    assert!(
        config.contains("dequantize = \"auto\"") && config.contains("logit = true"),
        "{config}"
    );

    // score: finite energies for the data; a row outside the box is refused with its place.
    let r = run_in(
        dir.path(),
        &["score", "--checkpoint", s(&ck), "--data", s(&data), "--out", "s.csv"],
    );
    r.ok();
    assert!(r.stderr.contains("data's space"), "{}", r.stderr);
    let (header, rows) = read_csv(&dir.path().join("s.csv"));
    assert_eq!(header[0], "energy");
    assert!(rows.iter().all(|r| r.iter().all(|v| v.is_finite())));
    // A row outside the logit's support has density zero (an anomaly, not an error).
    let outside = dir.path().join("outside.csv");
    write_csv(&outside, &[[3.0, 8.0, 20.0], [3.0, 8.0, 4.0]]);
    let args = ["score", "--checkpoint", s(&ck), "--data", s(&outside), "--out", "o.csv"];
    let r = run_in(dir.path(), &args);
    r.ok();
    assert!(r.stderr.contains("1 rows lie outside the range"), "{}", r.stderr);
    let (_, scored) = read_csv(&dir.path().join("o.csv"));
    assert_eq!(scored[0][0], f64::INFINITY);
    assert!(scored[0][1..].iter().all(|v| v.is_nan() || *v == f64::NEG_INFINITY));
    assert!(scored[1].iter().all(|v| v.is_finite()), "{:?}", scored[1]);

    // sample: mapped back through the inverse transform, into its support.
    let r = run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&ck), "--n", "200", "--steps", "50", "--out", "x.csv"],
    );
    r.ok();
    let (_, samples) = read_csv(&dir.path().join("x.csv"));
    assert_eq!(samples.len(), 200);
    for r in &samples {
        assert!((0..3).all(|j| (t.support(j).0..=t.support(j).1).contains(&r[j])), "{r:?}");
    }

    // eval: the data-space log-likelihood differs from the model-coordinate one by the
    // mean log-Jacobian, and the run's validation rows are found again.
    let r = run_in(dir.path(), &["eval", "--run", "run", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["n"], 60);
}

#[test]
fn the_density_under_a_logit_transform_integrates_to_one_in_data_space() {
    // 2-D data in the unit square: the log_density that `score` reports, p(x) including the
    // logit's Jacobian, must integrate to 1 over the box (a missing Jacobian would not).
    let dir = tempdir();
    let rows: Vec<f64> = (0..1500u64)
        .flat_map(|i| {
            let h = |k: u64| ((i * 2654435761 + k * 97) % 10007) as f64 / 10007.0;
            [0.05 + 0.9 * h(1) * h(1), 0.05 + 0.9 * (0.5 * h(2) + 0.5 * h(3))]
        })
        .collect();
    let data = dir.path().join("square.npy");
    common::write_npy(&data, &rows, 2);
    let args = ["train", "--data", s(&data), "--steps", "150", "--hidden", "16,16"];
    // With the figures: the density map and score field under the logit map.
    let run_args = ["--logit", "--logit-bounds", "0,1", "--dtype", "f64", "--out", "r"];
    run_in(dir.path(), &[&args[..], &run_args[..]].concat()).ok();
    for (figure, size) in
        [("density", (1200, 600)), ("score", (800, 600)), ("samples", (1200, 600))]
    {
        common::check_png(&dir.path().join("r").join(format!("{figure}.png")), size);
    }
    let n = 200;
    let cells: Vec<f64> = (0..n * n)
        .flat_map(|k| [((k % n) as f64 + 0.5) / n as f64, ((k / n) as f64 + 0.5) / n as f64])
        .collect();
    let grid = dir.path().join("grid.npy");
    common::write_npy(&grid, &cells, 2);
    let ck = dir.path().join("r/checkpoint.safetensors");
    run_in(dir.path(), &["score", "--checkpoint", s(&ck), "--data", s(&grid), "--out", "g.csv"])
        .ok();
    let (header, table) = read_csv(&dir.path().join("g.csv"));
    assert_eq!(header[1], "log_density");
    let mass: f64 = table.iter().map(|r| r[1].exp()).sum::<f64>() / (n * n) as f64;
    assert!((mass - 1.0).abs() < 0.05, "∫ p(x) dx over the box = {mass}");
}

#[test]
fn own_data_stops_early_by_default_and_says_what_it_kept() {
    let dir = tempdir();
    let data = dir.path().join("pixels.csv");
    write_csv(&data, &pixels());
    let base = ["train", "--data", s(&data), "--hidden", "8", "--no-plots", "--dequantize", "auto"];
    run_in(dir.path(), &[&base[..], &["--steps", "5", "--out", "own"]].concat()).ok();
    let config = std::fs::read_to_string(dir.path().join("own/config.toml")).expect("config");
    assert!(config.contains("patience = 10"), "{config}");
    // A built-in density keeps no patience; an explicit one wins.
    let builtin = ["train", "--steps", "5", "--hidden", "8", "--no-plots", "--out", "toy"];
    run_in(dir.path(), &builtin).ok();
    let config = std::fs::read_to_string(dir.path().join("toy/config.toml")).expect("config");
    assert!(!config.contains("patience"), "{config}");
    let r = run_in(
        dir.path(),
        &[
            &base[..],
            &[
                "--steps",
                "400",
                "--lr",
                "0.05",
                "--eval-every",
                "1",
                "--patience",
                "2",
                "--out",
                "p",
            ],
        ]
        .concat(),
    );
    r.ok();
    let config = std::fs::read_to_string(dir.path().join("p/config.toml")).expect("config");
    assert!(config.contains("patience = 2"), "{config}");
    let last = r.stderr.lines().rev().find(|l| l.starts_with("trained")).expect("summary");
    assert!(last.contains("stopped early at step") && last.contains("in 2 validations"), "{last}");
    assert!(last.contains("(best validation)"), "{last}");
}

#[test]
fn eval_explains_every_number_and_evaluates_a_run_on_its_own_validation_rows() {
    let dir = tempdir();
    let data = dir.path().join("pixels.csv");
    write_csv(&data, &pixels());
    let args = ["train", "--data", s(&data), "--steps", "20", "--hidden", "8", "--no-plots"];
    let extra = ["--dequantize", "auto", "--save-splits", "--out", "run"];
    let r = run_in(dir.path(), &[&args[..], &extra[..]].concat());
    r.ok();
    assert!(r.stderr.contains("train.csv") && r.stderr.contains("validation.csv"), "{}", r.stderr);
    let (h_train, train) = read_csv(&dir.path().join("run/train.csv"));
    let (h_val, validation) = read_csv(&dir.path().join("run/validation.csv"));
    assert_eq!((h_train.join(","), h_val.join(",")), ("a,b,c".to_string(), "a,b,c".to_string()));
    assert_eq!((train.len(), validation.len()), (540, 60));
    assert!(validation.iter().flatten().all(|v| v.fract() == 0.0), "raw rows, no noise");

    // --run finds exactly the saved validation rows.
    let json = |extra: &[&str]| {
        let r = run_in(dir.path(), &[&["eval", "--json"][..], extra].concat());
        r.ok();
        serde_json::from_str::<serde_json::Value>(&r.stdout).expect("json")
    };
    let by_run = json(&["--run", "run"]);
    let by_file =
        json(&["--checkpoint", "run/checkpoint.safetensors", "--data", "run/validation.csv"]);
    assert_eq!(by_run["measures"], by_file["measures"]);
    assert_eq!(by_run["n"], 60);
    for m in by_run["measures"].as_array().expect("measures") {
        assert!(m["meaning"].as_str().is_some_and(|t| t.len() > 20), "{m}");
        assert!(["lower", "higher"].contains(&m["better"].as_str().unwrap_or("")), "{m}");
        assert!(m["reliable"].is_boolean() && m["space"].is_string(), "{m}");
    }

    // The table: one line per number, each saying which way is better; -v prints no Rust
    // debug structures.
    let r = run_in(dir.path(), &["eval", "--run", "run", "-v"]);
    r.ok();
    let measured: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with("checkpoint") && !l.starts_with("data"))
        .collect();
    assert!(measured.len() >= 2, "{}", r.stdout);
    assert!(measured.iter().all(|l| l.contains("is better")), "{}", r.stdout);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(" { ") && !out.contains("Some("), "{out}");
    }
    // A run without validation rows says how to evaluate it instead.
    let none = ["--val-fraction", "0", "--out", "noval"];
    run_in(dir.path(), &[&args[..], &none[..]].concat()).ok();
    let r = run_in(dir.path(), &["eval", "--run", "noval"]);
    r.expect_code(2);
    assert!(r.stderr.contains("held out no validation rows") && r.stderr.contains("--data"));
}

#[test]
fn help_states_the_space_of_energies_and_densities() {
    let dir = tempdir();
    let score = run_in(dir.path(), &["score", "--help"]);
    score.ok();
    assert!(score.stdout.contains("data's own space") && score.stdout.contains("Σ log s"));
    let eval = run_in(dir.path(), &["eval", "--help"]);
    eval.ok();
    assert!(eval.stdout.contains("data's own space") && eval.stdout.contains("model coordinates"));
    let train = run_in(dir.path(), &["train", "--help"]);
    assert!(train.stdout.contains("--dequantize") && train.stdout.contains("--logit"));
}
