"""The shared PyTorch/JAX fixtures through scorematch.loss, to 1e-9 in float64."""

import json
import pathlib

import numpy as np
import pytest

import scorematch

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures"
ACTIVATIONS = ["softplus", "tanh", "swish"]
# fixture loss name -> (objective, which draw)
LOSSES = {
    "ssm": ("ssm", "v"),
    "ssm_vr": ("ssm-vr", "v"),
    "ssm_rademacher": ("ssm", "v_rademacher"),
    "ssm_vr_rademacher": ("ssm-vr", "v_rademacher"),
    "esm": ("esm", None),
    "dsm": ("dsm", "z"),
}


def load(activation):
    with open(FIXTURES / f"ssm_fixture_D3_H8_L2_{activation}.json") as f:
        return json.load(f)


def torch_layout(layers):
    """Fixture layers {W (in, out), b} as nn.Linear tensors (weight (out, in))."""
    params = {}
    for i, layer in enumerate(layers):
        params[f"layers.{i}.weight"] = np.asarray(layer["W"], dtype=np.float64).T.copy()
        params[f"layers.{i}.bias"] = np.asarray(layer["b"], dtype=np.float64)
    return params


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_fixture_loss_and_gradients(activation, name):
    fx = load(activation)
    objective, draw = LOSSES[name]
    kwargs = {}
    if draw == "z":
        kwargs = {"noise": np.asarray(fx["z"]), "sigma": fx["sigma"]}
    elif draw is not None:
        kwargs = {"projections": np.asarray(fx[draw])}
    value, grads = scorematch.loss(
        torch_layout(fx["params"]), np.asarray(fx["x"]), objective,
        activation=activation, dtype="float64", **kwargs,
    )
    assert abs(value - fx["losses"][name]) <= 1e-9 * max(1.0, abs(fx["losses"][name]))
    expected = torch_layout(fx["grads"][name])
    assert set(grads) == set(expected)
    for key, g in expected.items():
        assert grads[key].shape == g.shape, key
        np.testing.assert_allclose(grads[key], g, rtol=0, atol=1e-9, err_msg=key)


def test_loss_errors_name_the_argument():
    fx = load("softplus")
    params, x = torch_layout(fx["params"]), np.asarray(fx["x"])
    with pytest.raises(ValueError, match="^objective: unknown objective 'nope'"):
        scorematch.loss(params, x, "nope")
    with pytest.raises(ValueError, match="^model: unknown model kind"):
        scorematch.loss(params, x, "esm", model="mlp")
    with pytest.raises(ValueError, match="for a nice model pass its checkpoint"):
        scorematch.loss(params, x, "esm", model="nice")
    with pytest.raises(ValueError, match="^objective = mle: needs a model with a closed-form"):
        scorematch.loss(params, x, "mle")
    with pytest.raises(ValueError, match="^activation: unknown activation"):
        scorematch.loss(params, x, "esm", activation="relu6")
    with pytest.raises(ValueError, match="layers.2.bias"):
        scorematch.loss({k: v for k, v in params.items() if k != "layers.2.bias"}, x, "esm")
    with pytest.raises(ValueError, match="projections"):
        scorematch.loss(params, x, "esm", projections=np.asarray(fx["v"]))
    with pytest.raises(ValueError, match="projections"):
        scorematch.loss(params, x, "ssm", projections=np.asarray(fx["v"])[:3])
    with pytest.raises(ValueError, match="^sigma = -1: must be a positive number"):
        scorematch.loss(params, x, "dsm", noise=np.asarray(fx["z"]), sigma=-1.0)
    with pytest.raises(ValueError, match="dtype"):
        scorematch.loss(params, x, "esm", dtype="float16")
