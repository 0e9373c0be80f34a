"""ScoreMatchingDensity: scikit-learn conventions and checks, defaults, input validation,
Ctrl-C, progress and zero-copy."""

import inspect
import json
import signal
import threading

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import scorematch
from scorematch import ScoreMatchingDensity, _core

# scikit-learn's checks fit on tens of rows: a small, quick configuration.
SMALL = dict(hidden=(8,), steps=20, batch_size=8)

# Checks that do not apply, each with the reason. (scikit-learn itself also skips
# check_array_api_input: the estimator does not declare array-API support, the engine takes
# NumPy arrays only.)
SKIPPED = {
    # The checks' data include a single row / too few rows for one batch; the library's
    # error ("batch_size = 8: the training set has only 0 rows, fewer than one batch")
    # names the batch, not the wording ("1 sample") this check looks for.
    "check_fit2d_1sample": "the library's too-few-rows error names batch_size, not '1 sample'",
}


def expected_failed(estimator):
    return SKIPPED


@parametrize_with_checks([ScoreMatchingDensity(**SMALL)], expected_failed_checks=expected_failed)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_defaults_are_the_librarys():
    run = json.loads(_core.default_config())
    p = inspect.signature(ScoreMatchingDensity).parameters
    assert p["model"].default == run["model"]["kind"] == "mlp-energy"
    assert list(p["hidden"].default) == run["model"]["hidden"] == [64, 64]
    assert p["activation"].default == run["model"]["activation"] == "softplus"
    assert p["objective"].default == run["objective"]["kind"] == "ssm-vr"
    assert p["n_projections"].default == run["objective"]["n_projections"] == 1
    assert p["noise_sigma"].default is None  # the library's objective.sigma
    assert p["esm_chunk"].default is None and run["objective"].get("esm_chunk") is None
    assert p["steps"].default == run["train"]["steps"] == 2000
    assert p["batch_size"].default == run["train"]["batch_size"] == 256
    assert p["learning_rate"].default == run["train"]["lr"] == 3e-3
    assert p["standardize"].default is run["data"]["standardize"] is True
    assert p["dtype"].default == "float32" and run["dtype"] == "f32"
    assert p["threads"].default == run["threads"] == 1
    assert p["random_state"].default is None and p["verbose"].default is False


def test_params_are_stored_unchanged_and_clone():
    est = ScoreMatchingDensity(hidden=[3, 4], learning_rate=0.5, random_state=7)
    assert est.hidden == [3, 4] and est.get_params()["learning_rate"] == 0.5
    c = clone(est.set_params(steps=5))
    assert c.get_params() == est.get_params() and c is not est


def gaussian(n=400, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_fit_attributes_and_methods():
    X = gaussian()
    est = ScoreMatchingDensity(**SMALL).fit(X)
    assert est.n_features_in_ == 2 and est.n_iter_ == 20
    assert len(est.loss_curve_) == 20
    assert all(isinstance(s, int) for s, _ in est.validation_loss_curve_)
    assert est.energy(X).shape == (400,)
    assert est.grad_log_density(X).shape == (400, 2)
    lp = est.score_samples(X)
    assert lp.shape == (400,) and np.isfinite(lp).all()
    assert est.score(X) == pytest.approx(lp.sum())
    assert est.sample(7, random_state=3).shape == (7, 2)
    assert est.sample(3, kind="mala", steps=10).shape == (3, 2)
    np.testing.assert_array_equal(est.sample(5, random_state=1), est.sample(5, random_state=1))


def test_log_normalizer_in_more_than_two_dimensions():
    est = ScoreMatchingDensity(**SMALL).fit(gaussian(d=4))
    assert np.isfinite(est.log_normalizer_) and est.log_normalizer_std_err_ >= 0
    assert est.log_normalizer_ess_ > 0
    X = gaussian(5, 4, seed=1)
    np.testing.assert_allclose(est.score_samples(X), -est.energy(X) - est.log_normalizer_)


def test_not_fitted():
    est = ScoreMatchingDensity()
    for call in (lambda: est.score_samples(gaussian()), lambda: est.sample(2),
                 lambda: est.energy(gaussian()), lambda: est.save("x.safetensors")):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan]] * 50), "non-finite"),
        (np.array([[0.0, np.inf]] * 50), "non-finite"),
        (np.zeros(50), "2-D"),
        (np.zeros((5, 2, 2)), "2-D"),
        (np.zeros((0, 2)), "0 sample"),
        (np.zeros((5, 0)), "0 feature"),
        (gaussian(5), "batch_size = 8: the training set has only"),
        ([["a", "b"]], "could not convert string to float"),
    ],
)
def test_fit_input_errors(X, message):
    with pytest.raises(ValueError, match=message):
        ScoreMatchingDensity(**SMALL).fit(X)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(batch_size=0), "^batch_size = 0: must be at least 1"),
        (dict(steps=0), "^steps = 0"),
        (dict(learning_rate=-1.0), "^learning_rate = -1"),
        (dict(hidden=(0,)), "^hidden"),
        (dict(activation="relu6"), "^activation: unknown activation 'relu6'"),
        (dict(model="nope"), "^model: unknown model kind"),
        (dict(objective="nope"), "^objective"),
        (dict(objective="ms-dsm"), "^objective"),
        (dict(n_projections=0), "^n_projections = 0"),
        (dict(objective="dsm", noise_sigma=-1.0), "^noise_sigma = -1"),
        (dict(objective="esm", esm_chunk=0), "^esm_chunk = 0"),
        (dict(dtype="float16"), "^dtype"),
        (dict(threads=0), "^threads"),
        (dict(random_state="x"), "^random_state"),
    ],
)
def test_argument_errors_name_the_argument(params, message):
    with pytest.raises(ValueError, match=message):
        ScoreMatchingDensity(**{**SMALL, **params}).fit(gaussian())


def test_esm_chunk_changes_the_memory_not_the_fit():
    # Exact SM over 3 input directions in one chunk or in chunks of one: the same losses up
    # to the order of floating-point sums.
    X = gaussian(d=3)
    fits = [ScoreMatchingDensity(**SMALL, objective="esm", esm_chunk=c, dtype="float64",
                                 random_state=2).fit(X) for c in (None, 1)]
    np.testing.assert_allclose(fits[0].loss_curve_, fits[1].loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(fits[0].energy(X), fits[1].energy(X), rtol=1e-7, atol=1e-9)


def test_dimension_mismatch_and_sampler_errors():
    est = ScoreMatchingDensity(**SMALL).fit(gaussian())
    with pytest.raises(ValueError, match="X has 3 features, but ScoreMatchingDensity is expecting 2 features as input"):
        est.score_samples(gaussian(d=3))
    with pytest.raises(ValueError, match="^steps = 0"):
        est.sample(2, steps=0)
    with pytest.raises(ValueError, match="^n_samples = 0"):
        est.sample(0)
    with pytest.raises(ValueError, match="stepz"):
        est.sample(2, stepz=3)


def test_ctrl_c_stops_the_fit_with_a_usable_model():
    # A real signal, as Ctrl-C sends: SIGALRM after 0.3 s, handled as SIGINT is.
    est = ScoreMatchingDensity(**{**SMALL, "steps": 10**8})
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            est.fit(gaussian())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert 0 < est.n_iter_ < 10**8 and len(est.loss_curve_) == est.n_iter_
    assert np.isfinite(est.score_samples(gaussian(5))).all()


def test_verbose_prints_progress(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    ScoreMatchingDensity(**SMALL, verbose=True).fit(gaussian())
    err = capsys.readouterr().err
    assert "step 20/20: loss" in err


def test_pickle_round_trip():
    import pickle

    X = gaussian()
    est = ScoreMatchingDensity(**SMALL).fit(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))
    assert again.get_params() == est.get_params() and again.n_iter_ == est.n_iter_


def test_zero_copy():
    X = gaussian()
    # A C-contiguous float64 array reaches the engine as it is (no conversion copy) ...
    assert scorematch._rows(X) is X
    # ... and results are the engine's buffers handed over, not copied.
    est = ScoreMatchingDensity(**SMALL).fit(X)
    for out in (est.score_samples(X), est.energy(X), est.grad_log_density(X), est.sample(4)):
        assert out.dtype == np.float64 and out.flags.c_contiguous
        root = out
        while isinstance(root.base, np.ndarray):
            root = root.base
        assert not root.flags.owndata  # the memory is the Rust vector's


def test_fit_releases_the_gil():
    """While a fit runs in one thread, Python code in another keeps running."""
    done, count = threading.Event(), 0

    def work():
        ScoreMatchingDensity(**{**SMALL, "steps": 30_000}).fit(gaussian())
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    # Held through the fit, the GIL would leave this loop only the moments before and after.
    assert count > 500_000, count
