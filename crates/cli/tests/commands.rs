//! End-to-end runs of `sample`, `eval`, `score`, `init` and `datasets`.

mod common;

use std::path::Path;

use common::{check_png, read_csv, run_in, s, tempdir, train_small, write_npy};
use scorematch::data::Dataset;
use scorematch::eval::{EvalConfig, EvalReport, HeldoutConfig, KsdConfig, evaluate};
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;
use scorematch_graph::DType;

#[test]
fn datasets_lists_every_builtin_with_its_dimension() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["datasets"]);
    r.ok();
    for t in scorematch::data::datasets_table() {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(t.name))
            .unwrap_or_else(|| panic!("{} missing", t.name));
        assert!(line.split_whitespace().nth(1) == Some("2"), "{line}");
    }
    let r = run_in(dir.path(), &["datasets", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(8));
}

#[test]
fn init_writes_a_pytorch_named_checkpoint_without_normalisation() {
    let dir = tempdir();
    // The same seeded initialisation, written to `out`.
    let init = |out: &std::path::Path| {
        run_in(
            dir.path(),
            &[
                "init",
                "--input-dim",
                "3",
                "--hidden",
                "8,5",
                "--activation",
                "tanh",
                "--dtype",
                "f64",
                "--seed",
                "4",
                "--out",
                s(out),
            ],
        )
        .ok();
    };
    let out = dir.path().join("m.safetensors");
    init(&out);
    let saved = SavedModel::load(&out).expect("loads");
    assert!(saved.standardizer.is_none() && saved.training.is_none());
    assert_eq!(saved.dtype, scorematch_graph::DType::F64);
    let ck = scorematch::checkpoint::Checkpoint::load(&out).expect("raw checkpoint");
    let shapes: Vec<(&str, Vec<usize>)> =
        ck.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone())).collect();
    assert_eq!(
        shapes,
        vec![
            ("layers.0.bias", vec![8]),
            ("layers.0.weight", vec![8, 3]),
            ("layers.1.bias", vec![5]),
            ("layers.1.weight", vec![5, 8]),
            ("layers.2.bias", vec![1]),
            ("layers.2.weight", vec![1, 5]),
        ]
    );
    // PyTorch's U(-1/√fan_in, 1/√fan_in), seeded.
    let w0 = &ck.get("layers.0.weight").expect("w0").data;
    assert!(w0.iter().all(|v| v.abs() <= 1.0 / 3f64.sqrt()) && w0.iter().any(|v| *v != 0.0));
    let again = dir.path().join("n.safetensors");
    init(&again);
    assert_eq!(std::fs::read(&out).expect("a"), std::fs::read(&again).expect("b"));
    let r = run_in(dir.path(), &["init", "--input-dim", "0", "--out", "x.safetensors"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("--input-dim 0: the data must have at least one column"),
        "{}",
        r.stderr
    );
}

/// A standard normal in 2-D: `init --model gaussian` (mean 0, precision I, no
/// standardisation).
fn standard_normal(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("normal.safetensors");
    run_in(
        dir,
        &["init", "--model", "gaussian", "--input-dim", "2", "--dtype", "f64", "--out", s(&out)],
    )
    .ok();
    out
}

#[test]
fn score_of_a_standard_normal_is_exact() {
    let dir = tempdir();
    let ck = standard_normal(dir.path());
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "a,b\n0,0\n1,2\n-0.5,3\n").expect("write");
    let out = dir.path().join("scores.csv");
    run_in(dir.path(), &["score", "--checkpoint", s(&ck), "--data", s(&csv), "--out", s(&out)])
        .ok();
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["energy", "log_density", "score_a", "score_b"]);
    let pts = [[0.0, 0.0], [1.0, 2.0], [-0.5, 3.0]];
    for (r, x) in rows.iter().zip(pts) {
        let sq = x[0] * x[0] + x[1] * x[1];
        let lp = -0.5 * sq - (2.0 * std::f64::consts::PI).ln();
        assert!((r[0] - 0.5 * sq).abs() < 1e-12, "{r:?}");
        assert!((r[1] - lp).abs() < 1e-12, "{r:?}");
        assert!((r[2] + x[0]).abs() < 1e-12 && (r[3] + x[1]).abs() < 1e-12, "{r:?}");
    }
    // .npy out holds the same numbers.
    let npy = dir.path().join("scores.npy");
    run_in(dir.path(), &["score", "--checkpoint", s(&ck), "--data", s(&csv), "--out", s(&npy)])
        .ok();
    let table = scorematch::data::load_npy(&npy).expect("npy");
    assert_eq!((table.n(), table.d()), (3, 4));
    assert_eq!(table.row(1), rows[1].as_slice());
}

/// For a trained energy (standardised inputs), the raw-coordinate log-density integrates to
/// one and its gradient is the reported score.
#[test]
fn score_of_a_trained_energy_is_a_normalised_density_in_raw_coordinates() {
    let dir = tempdir();
    let run =
        train_small(dir.path(), "run", &["--dtype", "f64", "--no-plots", "--data", "gaussian"]);
    let ck = run.join("checkpoint.safetensors");
    let saved = SavedModel::load(&ck).expect("loads");
    let st = saved.standardizer.expect("standardised");
    // A grid in raw coordinates covering ±7 standard deviations.
    let n = 120;
    let (lo, hi): (Vec<f64>, Vec<f64>) =
        (0..2).map(|j| (st.mean[j] - 7.0 * st.std[j], st.mean[j] + 7.0 * st.std[j])).unzip();
    let h: Vec<f64> = (0..2).map(|j| (hi[j] - lo[j]) / n as f64).collect();
    // The columns of the built-in data the model was trained on.
    let mut text = String::from("x0,x1\n");
    for i in 0..n {
        for k in 0..n {
            text.push_str(&format!(
                "{},{}\n",
                lo[0] + (i as f64 + 0.5) * h[0],
                lo[1] + (k as f64 + 0.5) * h[1]
            ));
        }
    }
    // Three more rows for a finite-difference check of the score.
    let (x0, y0, e) = (st.mean[0] + 0.3, st.mean[1] - 0.2, 1e-5);
    text.push_str(&format!("{x0},{y0}\n{},{y0}\n{x0},{}\n", x0 + e, y0 + e));
    let grid = dir.path().join("grid.csv");
    std::fs::write(&grid, text).expect("write");
    let out = dir.path().join("s.csv");
    let r = run_in(
        dir.path(),
        &["score", "--checkpoint", s(&ck), "--data", s(&grid), "--out", s(&out)],
    );
    r.ok();
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["energy", "log_density", "score_x0", "score_x1"]);
    let mass: f64 = rows[..n * n].iter().map(|r| r[1].exp()).sum::<f64>() * h[0] * h[1];
    assert!((mass - 1.0).abs() < 0.02, "∫ p = {mass}");
    let base = &rows[n * n];
    let fd = [(rows[n * n + 1][1] - base[1]) / e, (rows[n * n + 2][1] - base[1]) / e];
    for j in 0..2 {
        assert!(
            (fd[j] - base[2 + j]).abs() < 1e-3 * (1.0 + fd[j].abs()),
            "score {j}: {} vs {}",
            base[2 + j],
            fd[j]
        );
    }
    // energy and log_density differ by a constant (log Z + Σ log s).
    let c: Vec<f64> = rows.iter().map(|r| r[0] + r[1]).collect();
    assert!(c.iter().all(|v| (v - c[0]).abs() < 1e-9), "energy + log p must be constant");
}

/// A row's log-density must not depend on the other rows scored with it (regression: the
/// normalising box used to widen to cover the scored data, so one outlier shifted every row).
#[test]
fn a_rows_log_density_does_not_depend_on_the_other_rows() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &["--dtype", "f64", "--no-plots"]);
    let ck = run.join("checkpoint.safetensors");
    let score_rows = |name: &str, text: &str| {
        let data = dir.path().join(format!("{name}.csv"));
        std::fs::write(&data, text).expect("write");
        let out = dir.path().join(format!("{name}-scores.csv"));
        let r = run_in(
            dir.path(),
            &["score", "--checkpoint", s(&ck), "--data", s(&data), "--out", s(&out)],
        );
        r.ok();
        (read_csv(&out).1, r.stderr)
    };
    let (alone, _) = score_rows("alone", "x0,x1\n0.5,0.5\n");
    let (with_outlier, stderr) = score_rows("outlier", "x0,x1\n0.5,0.5\n1000,1000\n");
    assert_eq!(alone[0][1].to_bits(), with_outlier[0][1].to_bits(), "log_density moved");
    assert!(stderr.contains("1 rows lie outside"), "the far row must be reported: {stderr}");
}

#[test]
fn score_networks_score_without_density_columns() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &["--model", "mlp-score", "--no-plots"]);
    let out = dir.path().join("s.csv");
    let r = run_in(
        dir.path(),
        &[
            "score",
            "--checkpoint",
            s(&run.join("checkpoint.safetensors")),
            "--data",
            "eight-gaussians",
            "--n-samples",
            "50",
            "--out",
            s(&out),
        ],
    );
    r.ok();
    assert!(r.stderr.contains("no density"), "{}", r.stderr);
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["score_x0", "score_x1"]);
    assert_eq!(rows.len(), 50);
}

#[test]
fn wrong_dimension_data_is_a_clear_error() {
    let dir = tempdir();
    let ck = standard_normal(dir.path());
    let csv = dir.path().join("three.csv");
    std::fs::write(&csv, "a,b,c\n1,2,3\n4,5,6\n").expect("write");
    for cmd in ["score", "eval", "loss"] {
        let mut args = vec![cmd, "--checkpoint", s(&ck), "--data", s(&csv)];
        match cmd {
            "score" => args.extend(["--out", "o.csv"]),
            "loss" => args.extend(["--objective", "esm"]),
            _ => {}
        }
        let r = run_in(dir.path(), &args);
        r.expect_code(2);
        assert!(
            r.stderr.contains("has 3 columns") && r.stderr.contains("takes 2-dimensional data"),
            "{cmd}: {}",
            r.stderr
        );
    }
    let r =
        run_in(dir.path(), &["score", "--checkpoint", s(&ck), "--data", s(&csv), "--out", "o.txt"]);
    r.expect_code(2);
    assert!(r.stderr.contains(".csv or .npy"), "{}", r.stderr);
    let r = run_in(dir.path(), &["eval", "--checkpoint", "missing.safetensors", "--data", "rings"]);
    r.expect_code(1);
    assert!(r.stderr.contains("missing.safetensors"), "{}", r.stderr);
    std::fs::write(dir.path().join("junk.safetensors"), b"not a checkpoint at all, really")
        .expect("write");
    let r = run_in(dir.path(), &["eval", "--checkpoint", "junk.safetensors", "--data", "rings"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("junk.safetensors") && r.stderr.contains("safetensors"),
        "{}",
        r.stderr
    );
}

#[test]
fn mala_samples_a_standard_normal_and_writes_csv_npy_and_a_plot() {
    let dir = tempdir();
    let ck = standard_normal(dir.path());
    let out = dir.path().join("s.csv");
    let png = dir.path().join("s.png");
    let r = run_in(
        dir.path(),
        &[
            "sample",
            "--checkpoint",
            s(&ck),
            "--sampler",
            "mala",
            "--n",
            "4000",
            "--steps",
            "100",
            "--step-size",
            "0.5",
            "--seed",
            "3",
            "--out",
            s(&out),
            "--plot",
            s(&png),
        ],
    );
    r.ok();
    assert!(r.stderr.contains("acceptance rate"), "{}", r.stderr);
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["x0", "x1"]);
    assert_eq!(rows.len(), 4000);
    for j in 0..2 {
        let m = rows.iter().map(|r| r[j]).sum::<f64>() / 4000.0;
        let v = rows.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / 3999.0;
        assert!(m.abs() < 0.08 && (v - 1.0).abs() < 0.1, "coordinate {j}: mean {m}, variance {v}");
    }
    check_png(&png, (800, 600));
    let npy = dir.path().join("s.npy");
    run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&ck), "--n", "10", "--steps", "5", "--out", s(&npy)],
    )
    .ok();
    assert_eq!(scorematch::data::load_npy(&npy).expect("npy").n(), 10);
    // Sampler / model mismatches are usage errors.
    let r = run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&ck), "--sampler", "annealed", "--out", "s2.csv"],
    );
    r.expect_code(2);
    assert!(r.stderr.contains("noise-conditional"), "{}", r.stderr);
}

#[test]
fn samples_come_back_in_raw_coordinates() {
    let dir = tempdir();
    let csv = dir.path().join("far.csv");
    let text: String = std::iter::once("a,b\n".to_string())
        .chain((0..1000).map(|i| {
            let t = i as f64 * 0.7;
            format!("{},{}\n", 50.0 + t.sin(), -20.0 + 2.0 * (1.3 * t).cos())
        }))
        .collect();
    std::fs::write(&csv, text).expect("write");
    let run =
        train_small(dir.path(), "run", &["--data", s(&csv), "--no-plots", "--batch-size", "64"]);
    let out = dir.path().join("s.csv");
    run_in(
        dir.path(),
        &[
            "sample",
            "--checkpoint",
            s(&run.join("checkpoint.safetensors")),
            "--n",
            "200",
            "--steps",
            "200",
            "--step-size",
            "0.01",
            "--out",
            s(&out),
        ],
    )
    .ok();
    let (_, rows) = read_csv(&out);
    let m0 = rows.iter().map(|r| r[0]).sum::<f64>() / rows.len() as f64;
    let m1 = rows.iter().map(|r| r[1]).sum::<f64>() / rows.len() as f64;
    assert!((m0 - 50.0).abs() < 2.0 && (m1 + 20.0).abs() < 3.0, "sample means {m0}, {m1}");
}

/// `eval --json` on a data file: (held-out value, KSD², KSD² standard error).
fn eval_json(dir: &Path, ck: &Path, data: &Path) -> (f64, f64, f64) {
    let r = run_in(dir, &["eval", "--checkpoint", s(ck), "--data", s(data), "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let num = |x: &serde_json::Value| x.as_f64().unwrap_or_else(|| panic!("not a number in {v}"));
    (num(&v["heldout"]["value"]), num(&v["ksd"]["ksd2"]), num(&v["ksd"]["std_err"]))
}

/// The held-out objective and KSD of the checkpoint `ck` on raw `data`, computed by the
/// library as `eval` does: in model coordinates, the default estimators drawing from the
/// estimator stream of seed 0.
fn eval_by_library(ck: &Path, data: &Dataset) -> EvalReport {
    let seed = Stream::Estimator.seed(0);
    let saved = SavedModel::load(ck).expect("checkpoint");
    let data = match &saved.standardizer {
        Some(st) => st.transform(data).expect("standardise"),
        None => data.clone(),
    };
    let model = saved.config.model();
    let config = EvalConfig {
        heldout: Some(HeldoutConfig { seed, threads: 1, ..HeldoutConfig::default() }),
        likelihood: None,
        ksd: Some(KsdConfig { seed, ..KsdConfig::default() }),
        ..EvalConfig::default()
    };
    match saved.dtype {
        DType::F32 => evaluate(model, &saved.params_as::<f32>(), &data, None, None, &config),
        DType::F64 => evaluate(model, &saved.params_as::<f64>(), &data, None, None, &config),
    }
    .expect("library evaluation")
}

#[test]
fn eval_reports_every_applicable_measure() {
    let dir = tempdir();
    let run = train_small(dir.path(), "run", &["--no-plots"]);
    let ck = run.join("checkpoint.safetensors");
    let r = run_in(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            s(&ck),
            "--data",
            "eight-gaussians",
            "--n-samples",
            "600",
            "--json",
        ],
    );
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["n"], 600);
    assert_eq!(v["heldout"]["objective"], "esm");
    // Exact SM, E[tr ∇s + ½‖s‖²] = ½E‖s − ∇log p‖² − ½E‖∇log p‖²: negative once the model's
    // score points the data's way (about −0.33 for this 30-step run; 0 for a flat model).
    let heldout = v["heldout"]["value"].as_f64().expect("held-out value");
    assert!(heldout.is_finite() && heldout < -0.1 && heldout > -20.0, "held-out {heldout}");
    // Every row counts (issue 8): 600 rows are two batches of 256 and one of 88.
    assert_eq!(v["heldout"]["rows"], 600);
    assert_eq!(v["log_likelihood"]["method"], "grid");
    let ll = v["mean_log_likelihood_raw"].as_f64().expect("raw log-likelihood");
    assert!(ll < -2.0 && ll > -12.0, "{ll}");
    assert!(v["fisher_divergence"]["value"].as_f64().is_some_and(|f| f > 0.0));
    // KSD² of a 30-step fit: positive (about 0.16 here), well beyond its error bar.
    let ksd2 = v["ksd"]["ksd2"].as_f64().expect("KSD²");
    let ksd_se = v["ksd"]["std_err"].as_f64().expect("KSD² standard error");
    assert!(ksd2.is_finite() && ksd2 > 0.0 && ksd2 < 1.0, "KSD² {ksd2}");
    assert!(ksd_se.is_finite() && ksd_se > 0.0 && ksd_se < ksd2, "KSD² {ksd2} ± {ksd_se}");
    assert_eq!(v["ksd"]["n"], 600);

    // On a data file, the binary reports exactly what the library computes; a copy of the
    // data shifted by 5 raw units (2.5 sd) is far from the model: KSD² (0.16 → 0.37 here,
    // standard errors < 0.01) and the held-out objective (−0.33 → −0.09) both grow.
    let raw = scorematch::data::load_any("eight-gaussians", 600, 77).expect("data");
    let shifted = Dataset::from_flat(600, 2, raw.data().iter().map(|x| x + 5.0).collect())
        .expect("shifted data");
    let (near_file, far_file) = (dir.path().join("near.npy"), dir.path().join("far.npy"));
    write_npy(&near_file, raw.data(), 2);
    write_npy(&far_file, shifted.data(), 2);
    let near = eval_json(dir.path(), &ck, &near_file);
    let far = eval_json(dir.path(), &ck, &far_file);
    println!("built-in: held-out {heldout}, KSD² {ksd2} ± {ksd_se}\nnear {near:?}\nfar {far:?}");
    for ((held, k2, se), data) in [(near, &raw), (far, &shifted)] {
        let lib = eval_by_library(&ck, data);
        let lib_held = lib.heldout.expect("library held-out").value;
        let lib_ksd = lib.ksd.expect("library KSD");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        assert!(close(held, lib_held), "held-out: binary {held}, library {lib_held}");
        assert!(close(k2, lib_ksd.ksd2) && close(se, lib_ksd.std_err), "{k2} ± {se}: {lib_ksd:?}");
    }
    let ((near_held, near_ksd, near_se), (far_held, far_ksd, far_se)) = (near, far);
    assert!(near_held < 0.0 && near_ksd > 0.0 && near_ksd < 1.0, "{near:?}");
    assert!(
        far_ksd > 1.5 * near_ksd && far_ksd - near_ksd > 5.0 * (near_se + far_se),
        "KSD² shifted {far_ksd} ± {far_se} vs {near_ksd} ± {near_se}"
    );
    assert!(far_held > near_held, "held-out shifted {far_held} vs {near_held}");

    // The table form.
    let r = run_in(
        dir.path(),
        &["eval", "--checkpoint", s(&ck), "--data", "two-moons", "--n-samples", "300"],
    );
    r.ok();
    for row in ["held-out esm", "log-likelihood", "KSD²"] {
        assert!(r.stdout.contains(row), "{}", r.stdout);
    }
    let fisher_row = r.stdout.lines().any(|l| l.starts_with("Fisher"));
    assert!(!fisher_row, "two-moons has no known score: {}", r.stdout);
}

#[test]
fn eval_of_a_standard_normal_matches_its_entropy() {
    let dir = tempdir();
    let ck = standard_normal(dir.path());
    let r = run_in(
        dir.path(),
        &["eval", "--checkpoint", s(&ck), "--data", "gaussian", "--n-samples", "4000", "--json"],
    );
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["log_likelihood"]["method"], "exact");
    // E log N(x; 0, I) under the built-in gaussian (mean (0.5,-0.5), var 1.5):
    // −log 2π − ½ E‖x‖² = −log 2π − ½ (2·1.5 + 0.5).
    let expected = -(2.0 * std::f64::consts::PI).ln() - 0.5 * 3.5;
    let got = v["log_likelihood"]["mean_log_likelihood"].as_f64().expect("ll");
    assert!((got - expected).abs() < 0.1, "{got} vs {expected}");
}

#[test]
fn eval_and_sample_noise_conditional_models_on_their_ladder() {
    let dir = tempdir();
    let run =
        train_small(dir.path(), "run", &["--model", "ncsn-score", "--levels", "3", "--no-plots"]);
    let ck = run.join("checkpoint.safetensors");
    let r = run_in(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            s(&ck),
            "--data",
            "eight-gaussians",
            "--n-samples",
            "300",
            "--json",
        ],
    );
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["heldout"]["objective"], "ms-dsm");
    assert!(v["notes"].to_string().contains("σ"), "{v}");
    let out = dir.path().join("s.csv");
    let r = run_in(
        dir.path(),
        &["sample", "--checkpoint", s(&ck), "--n", "50", "--steps", "10", "--out", s(&out), "-v"],
    );
    r.ok();
    assert!(r.stderr.contains("annealed"), "{}", r.stderr);
    assert_eq!(read_csv(&out).1.len(), 50);
}

/// A normalisable energy beyond grid quadrature (3-D, with its base term) still gets a
/// log-density, normalised by importance sampling, offset from the energy by one constant.
#[test]
fn score_of_a_3d_energy_has_an_importance_sampled_log_density() {
    let dir = tempdir();
    let data = dir.path().join("three.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..2000 {
        let t = i as f64 * 0.618;
        text.push_str(&format!("{},{},{}\n", t.sin(), (1.7 * t).cos() * 2.0, (0.3 * t).sin()));
    }
    std::fs::write(&data, text).expect("write");
    let run = train_small(dir.path(), "run", &["--no-plots", "--data", s(&data)]);
    let out = dir.path().join("scores.csv");
    let r = run_in(
        dir.path(),
        &[
            "score",
            "--checkpoint",
            s(&run.join("checkpoint.safetensors")),
            "--data",
            s(&data),
            "--out",
            s(&out),
        ],
    );
    r.ok();
    assert!(r.stderr.contains("importance sampling"), "{}", r.stderr);
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["energy", "log_density", "score_a", "score_b", "score_c"]);
    let c: Vec<f64> = rows.iter().map(|r| r[0] + r[1]).collect();
    assert!(c.iter().all(|v| v.is_finite() && (v - c[0]).abs() < 1e-9 * (1.0 + c[0].abs())));
}

/// `bench` as a smoke test of small cells (never a timed assertion): its JSON keys, and
/// the time against D drawn for two configurations.
#[test]
fn bench_times_one_small_cell_as_json() {
    let dir = tempdir();
    let args = ["bench", "--config", "2,8,1,16", "--config", "3,8,1,16", "--objective", "dsm"];
    let r =
        run_in(dir.path(), &[&args[..], &["--steps", "1", "--json", "--plot", "d.png"]].concat());
    r.ok();
    let cells: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let cell = &cells[0];
    for key in [
        "dim",
        "hidden",
        "layers",
        "batch",
        "objective",
        "threads",
        "ms_per_step",
        "steps_per_s",
        "flops_per_step",
        "gflops",
        "peak_fraction",
        "peak_bytes",
        "must_live_bytes",
        "compile_s",
    ] {
        assert!(!cell[key].is_null(), "missing {key}: {cell}");
    }
    assert_eq!((cell["dim"].as_u64(), cell["objective"].as_str()), (Some(2), Some("dsm")));
    assert_eq!(cells[1]["dim"].as_u64(), Some(3));
    let png = std::fs::read(dir.path().join("d.png")).expect("the plot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let r = run_in(dir.path(), &["bench", "--filter", "G9"]);
    r.expect_code(2);
    assert!(r.stderr.contains("G1, G2, G3, G4"), "{}", r.stderr);
}

#[test]
fn bench_profiles_the_instructions_of_one_cell() {
    let dir = tempdir();
    let args = ["bench", "--config", "2,8,1,16", "--objective", "ssm-vr", "--profile", "2"];
    let r = run_in(dir.path(), &args);
    r.ok();
    assert!(r.stdout.contains("ssm-vr on 1 thread(s)"), "{}", r.stdout);
    // The kinds' table and the slowest instructions, products with their shapes.
    assert!(r.stdout.contains("| dot |"), "{}", r.stdout);
    assert!(r.stdout.contains("]·["), "{}", r.stdout);
    let r = run_in(dir.path(), &["bench", "--profile", "2", "--json"]);
    r.expect_code(2);
}
