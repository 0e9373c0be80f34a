//! `scorematch loss` against the PyTorch/JAX fixtures: the fixture's MLP energy converted
//! to a checkpoint, its x, v and z written as .npy, every loss and every parameter gradient
//! to 1e-9 relative, in f64.

mod common;

#[path = "../../scorematch/tests/common/fixture.rs"]
mod fixture;

use std::path::Path;

use common::{run_in, s, tempdir, write_npy};
use fixture::{ACTIVATIONS, Fixture};
use scorematch::checkpoint::Checkpoint;
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::saved::SavedModel;
use scorematch_graph::DType;

/// Writes the fixture's model as a checkpoint (no standardisation) and its draws as .npy.
fn materialise(fx: &Fixture, dir: &Path) {
    let saved = SavedModel {
        config: ModelConfig::MlpEnergy(MlpEnergy {
            dim: fx.dim,
            hidden: fx.hidden.clone(),
            activation: fx.activation.parse::<Activation>().expect("activation"),
            base_sigma: None,
        }),
        params: fx.params(),
        dtype: DType::F64,
        transform: None,
        standardizer: None,
        columns: None,
        training: None,
        resume: None,
    };
    saved.save(dir.join("model.safetensors")).expect("checkpoint");
    write_npy(&dir.join("x.npy"), &fx.x, fx.dim);
    write_npy(&dir.join("v.npy"), &fx.v, fx.dim);
    write_npy(&dir.join("v_rademacher.npy"), &fx.v_rademacher, fx.dim);
    write_npy(&dir.join("z.npy"), &fx.z, fx.dim);
}

#[test]
fn loss_and_gradients_match_the_fixtures() {
    for act in ACTIVATIONS {
        let fx = Fixture::load(act);
        let dir = tempdir();
        let d = dir.path();
        materialise(&fx, d);
        let sigma = fx.sigma.to_string();
        let cases: [(&str, &str, Vec<&str>); 6] = [
            ("ssm", "ssm", vec!["--projections", "v.npy"]),
            ("ssm_vr", "ssm_vr", vec!["--projections", "v.npy"]),
            ("ssm_rademacher", "ssm", vec!["--projections", "v_rademacher.npy"]),
            ("ssm_vr_rademacher", "ssm-vr", vec!["--projections", "v_rademacher.npy"]),
            ("esm", "esm", vec![]),
            ("dsm", "dsm", vec!["--noise", "z.npy", "--sigma", &sigma]),
        ];
        for (name, objective, extra) in cases {
            let grads = d.join(format!("{name}.safetensors"));
            let mut args = vec![
                "loss",
                "--checkpoint",
                "model.safetensors",
                "--data",
                "x.npy",
                "--objective",
                objective,
                "--dtype",
                "f64",
                "--json",
                "--grad-out",
                s(&grads),
            ];
            args.extend(extra);
            let r = run_in(d, &args);
            r.ok();
            let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
            assert_eq!(v["n"].as_u64(), Some(fx.batch as u64));
            assert_eq!(v["objective"].as_str(), Some(objective.replace('_', "-").as_str()));
            let (got, want) = (v["loss"].as_f64().expect("loss"), fx.loss(name));
            assert!((got - want).abs() <= 1e-9 * want.abs(), "{act} {name}: {got} vs {want}");
            let ck = Checkpoint::load(&grads).expect("gradients");
            let names = [
                "layers.0.weight",
                "layers.0.bias",
                "layers.1.weight",
                "layers.1.bias",
                "layers.2.weight",
                "layers.2.bias",
            ];
            let want_grads = fx.grads(name);
            assert_eq!(want_grads.len(), names.len());
            for (pname, want) in names.iter().zip(&want_grads) {
                let got = &ck.get(pname).expect("gradient tensor").data;
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert_eq!(got.len(), want.len(), "{pname}");
                for (a, b) in got.iter().zip(want) {
                    assert!((a - b).abs() <= 1e-9 * scale, "{act} {name} {pname}: {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn loss_draws_what_is_not_given_and_rejects_bad_draws() {
    let fx = Fixture::load("tanh");
    let dir = tempdir();
    let d = dir.path();
    materialise(&fx, d);
    let base = [
        "loss",
        "--checkpoint",
        "model.safetensors",
        "--data",
        "x.npy",
        "--dtype",
        "f64",
        "--json",
    ];
    let run = |extra: &[&str]| run_in(d, &[&base[..], extra].concat());
    // Seeded draws: the same seed gives the same loss, another seed another.
    let a = run(&["--objective", "ssm", "--seed", "1"]);
    let b = run(&["--objective", "ssm", "--seed", "1"]);
    let c = run(&["--objective", "ssm", "--seed", "2", "--n-projections", "3"]);
    a.ok();
    c.ok();
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    // Stacked projections: two copies of v give exactly the one-projection loss.
    let twice: Vec<f64> = fx.v.iter().chain(&fx.v).copied().collect();
    write_npy(&d.join("vv.npy"), &twice, fx.dim);
    let r = run(&["--objective", "ssm", "--projections", "vv.npy"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    let want = fx.loss("ssm");
    assert!((v["loss"].as_f64().expect("loss") - want).abs() <= 1e-9 * want.abs());
    // Wrong shapes and misplaced flags are usage errors that say what is wrong.
    write_npy(&d.join("short.npy"), &fx.v[..fx.dim * 3], fx.dim);
    let cases: [(&[&str], &str); 4] = [
        (&["--objective", "ssm", "--projections", "short.npy"], "M ×"),
        (&["--objective", "dsm", "--noise", "short.npy"], "rows"),
        (&["--objective", "esm", "--projections", "v.npy"], "ssm and ssm-vr only"),
        (&["--objective", "mle"], "possible values: esm, ssm, ssm-vr, dsm"),
    ];
    for (extra, needle) in cases {
        let r = run(extra);
        r.expect_code(2);
        assert!(r.stderr.contains(needle), "{extra:?}: {}", r.stderr);
    }
    // Plain output.
    let r = run_in(
        d,
        &["loss", "--checkpoint", "model.safetensors", "--data", "x.npy", "--objective", "esm"],
    );
    r.ok();
    assert!(r.stdout.starts_with("esm loss "), "{}", r.stdout);
}
