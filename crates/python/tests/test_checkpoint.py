"""Checkpoints shared with the command line: CLI -> Python -> CLI."""

import subprocess

import numpy as np

from scorematch import ScoreMatchingDensity


def cli_score(cli, checkpoint, data, out):
    subprocess.run(
        [cli, "score", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)],
        check=True, capture_output=True,
    )
    table = np.genfromtxt(out, delimiter=",", names=True)
    return table


def test_cli_to_python_to_cli(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2)) * [1.0, 3.0] + [5.0, -1.0]
    data = tmp_path / "x.npy"
    np.save(data, X)
    run = tmp_path / "run"
    subprocess.run(
        [cli, "train", "--data", str(data), "--steps", "50", "--batch-size", "64",
         "--hidden", "16,16", "--seed", "3", "--no-plots", "--out", str(run)],
        check=True, capture_output=True,
    )
    # CLI -> Python: the model, its standardisation and its run's settings.
    est = ScoreMatchingDensity.load(run / "checkpoint.safetensors")
    assert est.n_features_in_ == 2
    assert (est.steps, est.batch_size, est.hidden, est.random_state) == (50, 64, (16, 16), 3)
    table = cli_score(cli, run / "checkpoint.safetensors", data, tmp_path / "a.csv")
    np.testing.assert_allclose(est.energy(X), table["energy"], rtol=1e-12)
    np.testing.assert_allclose(est.score_samples(X), table["log_density"], rtol=1e-12)
    score = est.grad_log_density(X)
    np.testing.assert_allclose(score[:, 0], table["score_x0"], rtol=1e-12)
    np.testing.assert_allclose(score[:, 1], table["score_x1"], rtol=1e-12)
    # Python -> CLI: the saved model scores the same in the CLI.
    est.save(tmp_path / "again.safetensors")
    again = cli_score(cli, tmp_path / "again.safetensors", data, tmp_path / "b.csv")
    for column in table.dtype.names:
        np.testing.assert_array_equal(again[column], table[column])


def test_python_fit_used_by_the_cli(cli, tmp_path):
    X = np.random.default_rng(1).normal(size=(500, 2))
    est = ScoreMatchingDensity(hidden=(8,), steps=30, batch_size=32).fit(X)
    est.save(tmp_path / "m.safetensors")
    data = tmp_path / "x.npy"
    np.save(data, X)
    table = cli_score(cli, tmp_path / "m.safetensors", data, tmp_path / "s.csv")
    np.testing.assert_allclose(est.score_samples(X), table["log_density"], rtol=1e-12)
    loaded = ScoreMatchingDensity.load(tmp_path / "m.safetensors")
    assert loaded.get_params() == {**est.get_params(), "random_state": 0}


def test_python_fit_is_the_cli_run(cli, tmp_path):
    """The same data and settings give the same run from either front, step for step."""
    X = np.random.default_rng(2).normal(size=(700, 2)) * [2.0, 0.5]
    data = tmp_path / "x.npy"
    np.save(data, X)
    subprocess.run(
        [cli, "train", "--data", str(data), "--steps", "40", "--batch-size", "64",
         "--hidden", "16", "--seed", "5", "--no-plots", "--out", str(tmp_path / "run")],
        check=True, capture_output=True,
    )
    metrics = np.genfromtxt(tmp_path / "run" / "metrics.csv", delimiter=",", names=True)
    est = ScoreMatchingDensity(steps=40, batch_size=64, hidden=(16,), random_state=5).fit(X)
    np.testing.assert_array_equal(est.loss_curve_, metrics["loss"])
    table = cli_score(cli, tmp_path / "run" / "checkpoint.safetensors", data, tmp_path / "s.csv")
    np.testing.assert_array_equal(est.score_samples(X), table["log_density"])
