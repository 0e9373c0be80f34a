"""scorematch: density and score estimators fitted by score matching, on the Rust engine.

``ScoreMatchingDensity`` is a scikit-learn-style density estimator (``fit``,
``score_samples``, ``score``, ``sample``) over the ``scorematch`` library: its arguments are
written into the library's run configuration (the format of a run's ``config.toml``), which
the library validates and trains exactly as ``scorematch train`` does; checkpoints are the
command line's safetensors files, so a model trained by either is used by the other.
``loss`` is the ``scorematch loss`` subcommand as a function.

Every default is the library's (``RunConfig::default()``), read from the engine at import
time; every rule is the library's, its errors worded here with the argument that sets the
field.
"""

import json
import os
import sys

import numpy as np

from . import _core

__all__ = ["ScoreMatchingDensity", "loss"]

try:  # scikit-learn's base classes when installed (get_params, set_params, clone, tags)
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import DensityMixin as _Density
except ImportError:  # pragma: no cover - exercised only without scikit-learn

    class _Base:
        """get_params / set_params as scikit-learn defines them, for use without it."""

        @classmethod
        def _get_param_names(cls):
            import inspect

            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
                setattr(self, key, value)
            return self

    class _Density:
        """scikit-learn's DensityMixin: ``score`` is the total log-density."""

        _estimator_type = "DensityEstimator"

        def score(self, X, y=None):
            return float(np.sum(self.score_samples(X)))


_DEFAULTS = json.loads(_core.default_config())

# Python argument -> the run-configuration field it sets (the library's path). Errors on a
# field are worded with the argument; the rest of the configuration keeps its defaults.
_FIELDS = {
    "model": "model.kind",
    "hidden": "model.hidden",
    "activation": "model.activation",
    "objective": "objective.kind",
    "n_projections": "objective.n_projections",
    "noise_sigma": "objective.sigma",
    "esm_chunk": "objective.esm_chunk",
    "steps": "train.steps",
    "batch_size": "train.batch_size",
    "learning_rate": "train.lr",
    "standardize": "data.standardize",
    "dtype": "dtype",
    "threads": "threads",
    "random_state": "seed",
}
_ARGUMENTS = {path: arg for arg, path in _FIELDS.items()}


def _default(path):
    value = _DEFAULTS
    for part in path.split("."):
        value = value[part]
    return tuple(value) if isinstance(value, list) else value


_DTYPE_NAMES = {"f32": "float32", "f64": "float64"}


def _config_error(error, arguments=_ARGUMENTS, sampler=False):
    """A library ConfigFieldError as a ValueError naming the argument that sets the field."""
    field, value, expected = error.args

    def name(path):
        if sampler and path.startswith("sampler."):
            return path[len("sampler."):]
        return arguments.get(path, path)

    words = []
    for word in expected.split(" "):
        core = word.rstrip(".,:;)")
        words.append(name(core) + word[len(core):] if "." in core and core in arguments else word)
    expected = " ".join(words)
    shown = f" = {value}" if value != "" else ""
    return ValueError(f"{name(field)}{shown}: {expected}")


def _rows(X, name="X"):
    """X as a C-contiguous float64 (n, d) array: no copy when it already is one."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a sparse matrix: dense data is required (X.toarray())")
    if np.iscomplexobj(X):
        raise ValueError(f"Complex data not supported: {name} must be real")
    X = np.asarray(X, dtype=np.float64, order="C")
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_samples, n_features), got {X.ndim} dimension(s) "
            f"with shape {X.shape}; reshape a single feature with X.reshape(-1, 1) or a "
            "single sample with X.reshape(1, -1)"
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"{name} has 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    return X


def _seed(random_state):
    """The run seed: the library's default for None, an int as given, or one drawn."""
    if random_state is None:
        return _default("seed")
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, got {random_state!r}"
    )


class _Progress:
    """Training progress: tqdm when installed, otherwise a line every tenth of the run."""

    def __init__(self, stream=None):
        self.bar = None
        self.stream = stream or sys.stderr
        self.last = None

    def __call__(self, step, total, loss, val_loss):
        if self.bar is None and self.last is None:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc="scorematch fit", unit="step")
            except ImportError:
                self.last = 0
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            if step == total:
                self.bar.close()
        elif step == total or step - self.last >= max(1, total // 10):
            self.last = step
            val = "" if val_loss is None else f", validation loss {val_loss:.4f}"
            print(f"step {step}/{total}: loss {loss:.4f}{val}", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class ScoreMatchingDensity(_Density, _Base):
    """A density (or score) model fitted by score matching on the scorematch engine.

    Parameters are those of ``scorematch train`` with the same defaults (the library's):
    ``model`` (``mlp-energy``, ``mlp-score``, ``ncsn-score``, ``nice``, ``gaussian``),
    ``hidden`` widths, ``activation``, ``objective`` (``esm``, ``ssm``, ``ssm-vr``,
    ``dsm``, ``ms-dsm``, ``mle``), ``n_projections`` of the sliced objectives,
    ``noise_sigma`` (DSM's σ; None: the library's), ``esm_chunk`` (input directions per
    chunk of exact SM, which bounds its memory; None: as many as fit in 64 MiB),
    ``steps``, ``batch_size``,
    ``learning_rate`` (Adam), ``standardize`` (per column, the map saved with the model),
    ``dtype`` (``float32`` or ``float64``), ``threads``, ``random_state`` (the run seed;
    None: the library's default seed, so fits repeat), ``verbose`` (progress bar).

    As ``scorematch train`` does, a fraction of the rows (the library's
    ``data.val_fraction``, 0.1) is held out for the validation loss and keeping the best
    parameters.
    """

    def __init__(
        self,
        model=_default("model.kind"),
        hidden=_default("model.hidden"),
        activation=_default("model.activation"),
        objective=_default("objective.kind"),
        n_projections=_default("objective.n_projections"),
        noise_sigma=None,
        esm_chunk=None,
        steps=_default("train.steps"),
        batch_size=_default("train.batch_size"),
        learning_rate=_default("train.lr"),
        standardize=_default("data.standardize"),
        dtype=_DTYPE_NAMES.get(_default("dtype"), _default("dtype")),
        threads=_default("threads"),
        random_state=None,
        verbose=False,
    ):
        self.model = model
        self.hidden = hidden
        self.activation = activation
        self.objective = objective
        self.n_projections = n_projections
        self.noise_sigma = noise_sigma
        self.esm_chunk = esm_chunk
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.standardize = standardize
        self.dtype = dtype
        self.threads = threads
        self.random_state = random_state
        self.verbose = verbose

    def _run_config(self):
        """The run configuration (JSON) of the arguments; unset fields keep the library's."""
        values = {
            "model.kind": self.model,
            "model.hidden": list(self.hidden) if np.iterable(self.hidden) else self.hidden,
            "model.activation": self.activation,
            "objective.kind": self.objective,
            "objective.n_projections": self.n_projections,
            "objective.sigma": self.noise_sigma,
            "objective.esm_chunk": self.esm_chunk,
            "train.steps": self.steps,
            "train.batch_size": self.batch_size,
            "train.lr": self.learning_rate,
            "data.standardize": self.standardize,
            "dtype": self.dtype,
            "threads": self.threads,
            "seed": _seed(self.random_state),
            "plots": False,
        }
        config = {}
        for path, value in values.items():
            if value is None:
                continue
            if isinstance(value, np.generic):
                value = value.item()
            *sections, key = path.split(".")
            node = config
            for s in sections:
                node = node.setdefault(s, {})
            node[key] = value
        return json.dumps(config)

    def fit(self, X, y=None):
        """Fits the model to the rows of X (n_samples, n_features); y is ignored."""
        X = _rows(X)
        progress = _Progress() if self.verbose else None
        try:
            model, report, stopped = _core.Model.fit(self._run_config(), X, progress)
        except _core.ConfigFieldError as e:
            raise _config_error(e) from None
        finally:
            if progress is not None:
                progress.close()
        self._set_model(model)
        self.n_iter_ = report["steps_done"]
        self.loss_curve_ = list(report["loss_curve"])
        self.validation_loss_curve_ = list(report["validation_loss_curve"])
        if report["stop"] not in ("completed", "early-stopped", "interrupted"):
            import warnings

            warnings.warn(report["stop"], RuntimeWarning, stacklevel=2)
        if stopped is not None:
            raise stopped
        return self

    def _set_model(self, model):
        self.model_ = model
        self.n_features_in_ = model.dim
        normalizer = model.normalizer
        if normalizer is not None:
            self.log_normalizer_, self.log_normalizer_std_err_, self.log_normalizer_ess_ = normalizer

    def __getstate__(self):
        """Pickles the fitted model as its checkpoint's bytes."""
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.safetensors")
                model.save(path)
                with open(path, "rb") as f:
                    state["model_checkpoint_"] = f.read()
        return state

    def __setstate__(self, state):
        checkpoint = state.pop("model_checkpoint_", None)
        self.__dict__.update(state)
        if checkpoint is not None:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.safetensors")
                with open(path, "wb") as f:
                    f.write(checkpoint)
                self._set_model(_core.Model.load(path, self.threads))

    def _check(self, X):
        if not hasattr(self, "model_"):
            raise _not_fitted(self)
        X = _rows(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def energy(self, X):
        """The energy of each row (p ∝ exp(−energy) in the data's coordinates), (n,)."""
        X = self._check(X)
        return self.model_.energy(X, self.threads)

    def score_samples(self, X):
        """The normalised log-density of each row, (n,): exact for flows and Gaussians, by
        grid quadrature for energies in at most two dimensions, and with ``log_normalizer_``
        (estimated once at fit time by importance sampling) beyond."""
        X = self._check(X)
        try:
            values, notes = self.model_.log_density(X, self.threads)
        except ValueError as e:
            raise ValueError(f"score_samples: {e}") from None
        if notes and self.verbose:
            for note in notes:
                print(f"scorematch: {note}", file=sys.stderr)
        return values

    def score(self, X, y=None):
        """The total log-density of the rows of X (scikit-learn's density ``score``)."""
        return float(np.sum(self.score_samples(X)))

    def grad_log_density(self, X):
        """∇ₓ log p of each row, (n, n_features)."""
        X = self._check(X)
        return self.model_.score(X, self.threads)

    def sample(self, n_samples=1, random_state=None, **sampler):
        """Draws n_samples rows (n_samples, n_features) by the run's Langevin sampler (as
        ``scorematch train`` draws its samples plot), seeded by ``random_state`` (None: the
        estimator's, so repeated calls repeat the draw). Keyword arguments set the library's
        sampler fields: ``kind`` (``langevin``, ``mala``, ``annealed``), ``steps``,
        ``step_size``, ``step_size_final``, ``noise_scale``, ``init_std``, ``thin``, …"""
        if not hasattr(self, "model_"):
            raise _not_fitted(self)
        seed = _seed(random_state if random_state is not None else self.random_state)
        try:
            return self.model_.sample(int(n_samples), seed, json.dumps(sampler))
        except _core.ConfigFieldError as e:
            field = e.args[0]
            if field == "sampler.n_chains":
                raise _config_error(e, {"sampler.n_chains": "n_samples"}) from None
            raise _config_error(e, sampler=True) from None

    def save(self, path):
        """Writes the model as the command line's safetensors checkpoint."""
        if not hasattr(self, "model_"):
            raise _not_fitted(self)
        self.model_.save(os.fspath(path))

    @classmethod
    def load(cls, path, threads=None):
        """Reads a checkpoint written by ``save`` or by ``scorematch train``; the
        estimator's arguments are those of the recorded run."""
        model = _core.Model.load(os.fspath(path), threads or _default("threads"))
        estimator = cls()
        if model.run_config is not None:
            run = json.loads(model.run_config)
            params = {}
            for arg, path_ in _FIELDS.items():
                node = run
                for part in path_.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                if node is not None:
                    params[arg] = tuple(node) if isinstance(node, list) else node
            params["dtype"] = _DTYPE_NAMES.get(params.get("dtype"), params.get("dtype"))
            if params.get("noise_sigma") == _default("objective.sigma"):
                params["noise_sigma"] = None
            estimator.set_params(**params)
        if threads is not None:
            estimator.threads = threads
        estimator._set_model(model)
        return estimator


def _not_fitted(estimator):
    message = (
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator."
    )
    try:
        from sklearn.exceptions import NotFittedError

        return NotFittedError(message)
    except ImportError:  # pragma: no cover
        return AttributeError(message)


def loss(
    params,
    X,
    objective,
    model="mlp-energy",
    activation="softplus",
    projections=None,
    noise=None,
    sigma=None,
    dtype="float64",
):
    """The ``scorematch loss`` subcommand as a function: ``(loss, grads)``.

    ``params``: a dict of NumPy arrays in the ``nn.Linear`` layout (``layers.{i}.weight`` of
    shape (out, in), ``layers.{i}.bias``) for an ``mlp-energy`` (no base term) or
    ``mlp-score`` with ``activation``; or a checkpoint path, whose model is used. ``X`` is
    used as given (no standardisation). ``projections``: (M·n, d) rows v of ``ssm`` /
    ``ssm-vr``, copy k in rows k·n … (k+1)·n − 1; ``noise``: (n, d) rows z of ``dsm`` at
    ``sigma``. Draws not given come from the library's default seed. ``grads`` has the keys
    and shapes of the model's parameters.
    """
    if isinstance(params, dict):
        params = {k: _rows_any(v) for k, v in params.items()}
    else:
        params = os.fspath(params)
    X = _rows(X)
    projections = None if projections is None else _rows(projections, "projections")
    noise = None if noise is None else _rows(noise, "noise")
    arguments = {"objective.kind": "objective", "model.kind": "model",
                 "model.activation": "activation", "objective.sigma": "sigma",
                 "dtype": "dtype", "model.hidden": "params"}
    try:
        return _core.loss(params, X, objective, model, activation, projections, noise, sigma, dtype)
    except _core.ConfigFieldError as e:
        raise _config_error(e, arguments) from None


def _rows_any(value):
    return np.asarray(value, dtype=np.float64, order="C")
