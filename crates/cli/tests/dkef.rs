//! `--model dkef` through every command (issue 9 item 1): train → eval → score → sample on
//! a tiny configuration.

mod common;

use common::{read_csv, run_in, tempdir};

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn dkef_trains_evaluates_scores_and_samples() {
    let dir = tempdir();
    let data = dir.path().join("three.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..400 {
        let t = i as f64 * 0.618;
        text.push_str(&format!("{},{},{}\n", t.sin(), (1.7 * t).cos() * 2.0, (0.3 * t).sin()));
    }
    std::fs::write(&data, text).expect("write");
    let run = dir.path().join("run");
    #[rustfmt::skip]
    let train = [
        "train", "--model", "dkef", "--inducing-points", "12", "--kernels", "2", "--width", "8",
        "--objective", "ssm-vr", "--steps", "20", "--batch-size", "32", "--no-plots",
        "--data", s(&data), "--out", s(&run),
    ];
    run_in(dir.path(), &train).ok();
    let ck = run.join("checkpoint.safetensors");
    let saved = scorematch::saved::SavedModel::load(&ck).expect("checkpoint");
    assert_eq!(saved.config.kind_name(), "dkef");
    // The stored statistics were fitted (they start at zero).
    let names: Vec<String> =
        saved.config.model().param_specs().iter().map(|p| p.name.clone()).collect();
    let gram = names.iter().position(|n| n == "fit.gram").expect("fit.gram");
    assert!(saved.params[gram].iter().any(|v| *v != 0.0));

    let r = run_in(dir.path(), &["eval", "--checkpoint", s(&ck), "--data", s(&data), "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert!(v["heldout"]["value"].as_f64().is_some_and(f64::is_finite), "{v}");

    let out = dir.path().join("scores.csv");
    let r = run_in(
        dir.path(),
        &["score", "--checkpoint", s(&ck), "--data", s(&data), "--out", s(&out)],
    );
    r.ok();
    assert!(r.stderr.contains("importance sampling"), "{}", r.stderr);
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["energy", "log_density", "score_a", "score_b", "score_c"]);
    assert_eq!(rows.len(), 400);
    // log p = −f − log Z: energy + log-density is one constant (−log Z, in raw coordinates).
    let c: Vec<f64> = rows.iter().map(|r| r[0] + r[1]).collect();
    assert!(c.iter().all(|v| v.is_finite() && (v - c[0]).abs() < 1e-9 * (1.0 + c[0].abs())));

    let samples = dir.path().join("s.csv");
    #[rustfmt::skip]
    let sample = [
        "sample", "--checkpoint", s(&ck), "--n", "50", "--steps", "20", "--out", s(&samples),
    ];
    run_in(dir.path(), &sample).ok();
    let (header, rows) = read_csv(&samples);
    assert_eq!(header, ["a", "b", "c"]);
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().flatten().all(|v| v.is_finite()));
}
