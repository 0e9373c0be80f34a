//! Loader for the PyTorch/JAX reference fixtures in `fixtures/` (repository root).

#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;

/// A fixture: the MLP energy's weights in PyTorch layout, the batch, draws and references.
pub struct Fixture {
    pub activation: String,
    pub sigma: f64,
    pub batch: usize,
    pub dim: usize,
    pub hidden: Vec<usize>,
    /// Per layer: weight [out, in] row-major (transposed from the fixture's (in, out)) and bias.
    pub layers: Vec<(Vec<f64>, Vec<usize>, Vec<f64>)>,
    pub x: Vec<f64>,
    pub v: Vec<f64>,
    pub v_rademacher: Vec<f64>,
    pub z: Vec<f64>,
    raw: Value,
}

/// The fixtures' file names, one per activation.
pub const ACTIVATIONS: [&str; 3] = ["softplus", "tanh", "swish"];

/// The six losses of every fixture.
pub const LOSSES: [&str; 6] =
    ["ssm", "ssm_vr", "esm", "dsm", "ssm_rademacher", "ssm_vr_rademacher"];

pub fn path(activation: &str) -> String {
    format!("{}/../../fixtures/ssm_fixture_D3_H8_L2_{activation}.json", env!("CARGO_MANIFEST_DIR"))
}

fn flat(v: &Value) -> Vec<f64> {
    match v.as_array() {
        Some(a) => a.iter().flat_map(flat).collect(),
        None => vec![v.as_f64().expect("number")],
    }
}

/// Transposes a row-major (rows × cols) matrix.
pub fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols).map(|i| m[(i % rows) * cols + i / rows]).collect()
}

impl Fixture {
    pub fn load(activation: &str) -> Self {
        let raw: Value =
            serde_json::from_str(&std::fs::read_to_string(path(activation)).unwrap()).unwrap();
        let dim = raw["D"].as_u64().unwrap() as usize;
        let mut hidden = vec![];
        let mut layers = vec![];
        for layer in raw["params"].as_array().unwrap() {
            let shape: Vec<usize> = layer["W_shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let w = transpose(&flat(&layer["W"]), shape[0], shape[1]);
            layers.push((w, vec![shape[1], shape[0]], flat(&layer["b"])));
            hidden.push(shape[1]);
        }
        hidden.pop();
        Fixture {
            activation: raw["activation"].as_str().unwrap().to_string(),
            sigma: raw["sigma"].as_f64().unwrap(),
            batch: raw["B"].as_u64().unwrap() as usize,
            dim,
            hidden,
            layers,
            x: flat(&raw["x"]),
            v: flat(&raw["v"]),
            v_rademacher: flat(&raw["v_rademacher"]),
            z: flat(&raw["z"]),
            raw,
        }
    }

    /// The reference loss.
    pub fn loss(&self, name: &str) -> f64 {
        self.raw["losses"][name].as_f64().unwrap()
    }

    /// The reference gradients in PyTorch layout, in parameter order
    /// (layers.0.weight, layers.0.bias, ...).
    ///
    /// Panics if the fixture does not hold exactly one gradient entry per layer, or if an
    /// entry's sizes differ from its layer's (a `zip` would silently drop the extra layers).
    pub fn grads(&self, name: &str) -> Vec<Vec<f64>> {
        let entries = self.raw["grads"][name].as_array().unwrap_or_else(|| {
            panic!("fixture {}: no gradient list `grads.{name}`", self.activation)
        });
        assert_eq!(
            entries.len(),
            self.layers.len(),
            "fixture {}: `grads.{name}` has {} entries for {} layers",
            self.activation,
            entries.len(),
            self.layers.len()
        );
        entries
            .iter()
            .zip(&self.layers)
            .enumerate()
            .flat_map(|(i, (g, (w, shape, b)))| {
                let (gw, gb) = (flat(&g["W"]), flat(&g["b"]));
                assert_eq!(
                    (gw.len(), gb.len()),
                    (w.len(), b.len()),
                    "fixture {}: `grads.{name}[{i}]` (W, b) sizes differ from layer {i}'s",
                    self.activation
                );
                [transpose(&gw, shape[1], shape[0]), gb]
            })
            .collect()
    }

    /// Parameters in PyTorch layout and order.
    pub fn params(&self) -> Vec<Vec<f64>> {
        self.layers.iter().flat_map(|(w, _, b)| [w.clone(), b.clone()]).collect()
    }
}
