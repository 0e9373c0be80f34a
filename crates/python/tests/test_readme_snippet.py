"""The README's "Loading a checkpoint into PyTorch" snippet, its arithmetic redone in NumPy,
returns exactly the `energy` column of `scorematch score` (the data's space: the
standardisation's Σ log s and a logit transform's Jacobian included)."""

import json
import math
import pathlib
import struct
import subprocess

import numpy as np
import pytest

DTYPES = {"F32": np.float32, "F64": np.float64}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file, read with NumPy alone."""
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        start, end = t["data_offsets"]
        values = np.frombuffer(body[start:end], dtype=DTYPES[t["dtype"]])
        tensors[name] = values.reshape(t["shape"]).astype(np.float64)
    return tensors, meta


ACTIVATIONS = {
    "softplus": lambda h: np.logaddexp(0.0, h),
    "tanh": np.tanh,
    "swish": lambda h: h / (1.0 + np.exp(-h)),
    "elu": lambda h: np.where(h > 0, h, np.expm1(np.minimum(h, 0.0))),
}


def readme_energy(path, x):
    """The README snippet's `energy(x)`, line for line, with NumPy for torch."""
    tensors, metadata = read_safetensors(path)
    meta = json.loads(metadata["scorematch"])
    m = meta["model"]
    act = ACTIVATIONS[m["activation"]]
    n_layers = len(m["hidden"]) + 1
    y, log_jac = x, 0.0
    logit = (meta.get("transform") or {}).get("logit")
    if logit is not None:
        lo, hi, a = np.array(logit["lo"]), np.array(logit["hi"]), logit["alpha"]
        u = a + (1 - 2 * a) * (x - lo) / (hi - lo)
        y = np.log(u / (1 - u))
        log_jac = (math.log(1 - 2 * a) - np.log(hi - lo) - np.log(u * (1 - u))).sum(-1)
    s = meta["standardizer"]
    z = y if s is None else (y - np.array(s["mean"])) / np.array(s["std"])
    h = z
    for i in range(n_layers):
        h = h @ tensors[f"layers.{i}.weight"].T + tensors[f"layers.{i}.bias"]
        h = h if i == n_layers - 1 else act(h)
    f = h[:, 0]
    if m.get("base_sigma") is not None:
        f = f + (z ** 2).sum(-1) / (2 * m["base_sigma"] ** 2)
    if s is not None:
        f = f + np.log(np.array(s["std"])).sum()
    return f - log_jac


def train_and_score(cli, tmp_path, data, extra):
    run = tmp_path / "run"
    subprocess.run(
        [cli, "train", "--data", str(data), "--steps", "40", "--batch-size", "64",
         "--hidden", "16,16", "--dtype", "f64", "--no-plots", "--out", str(run), *extra],
        check=True, capture_output=True,
    )
    out = tmp_path / "scores.csv"
    subprocess.run(
        [cli, "score", "--checkpoint", str(run / "checkpoint.safetensors"), "--data", str(data),
         "--out", str(out)],
        check=True, capture_output=True,
    )
    table = np.genfromtxt(out, delimiter=",", names=True)
    return run / "checkpoint.safetensors", table["energy"]


@pytest.mark.parametrize("kind", ["standardised", "dequantised-logit"])
def test_readme_snippet_returns_the_energy_column_of_score(cli, tmp_path, kind):
    rng = np.random.default_rng(0)
    if kind == "standardised":
        # Scales far from 1: Σ log s is about 5.3, the constant the snippet once missed.
        x = rng.normal(size=(400, 3)) * [10.0, 0.5, 40.0] + [100.0, -3.0, 0.0]
        extra = []
    else:
        # Pixel-like integers in [0, 16].
        x = np.clip(np.round(rng.normal(8.0, 4.0, size=(400, 3))), 0, 16)
        extra = ["--dequantize", "auto", "--logit"]
    data = tmp_path / "x.csv"
    np.savetxt(data, x, delimiter=",", header="a,b,c", comments="")
    checkpoint, energy = train_and_score(cli, tmp_path, data, extra)
    _, metadata = read_safetensors(checkpoint)
    meta = json.loads(metadata["scorematch"])
    assert (meta.get("transform") is not None) == (kind != "standardised")
    mine = readme_energy(checkpoint, x)
    np.testing.assert_allclose(mine, energy, rtol=1e-9, atol=1e-9)
    if kind == "standardised":
        # The constant the snippet once left out is large here: a test that could fail.
        log_s = np.log(np.array(meta["standardizer"]["std"])).sum()
        assert abs(log_s) > 5.0
