"""A 2-D fit whose score_samples on a grid is close to the true density, by the KL measure of
the Rust density test (crates/scorematch/tests/density_fit.rs)."""

import numpy as np

from scorematch import ScoreMatchingDensity

# Eight Gaussians as the library defines them: centres 2√2(cos kπ/4, sin kπ/4), σ = 1/(2√2).
CENTRES = 2 * np.sqrt(2) * np.array([[np.cos(k * np.pi / 4), np.sin(k * np.pi / 4)] for k in range(8)])
SIGMA = 0.5 / np.sqrt(2)


def log_density(x):
    d2 = ((x[:, None, :] - CENTRES[None]) ** 2).sum(-1)
    return np.log(np.exp(-d2 / (2 * SIGMA**2)).mean(axis=1) / (2 * np.pi * SIGMA**2))


def kl_from_truth(est, n=200, half=5.0):
    """KL(p_true ‖ q) by the midpoint rule on an n × n grid over [−5, 5]²."""
    g = (np.arange(n) + 0.5) / n * 2 * half - half
    xx, yy = np.meshgrid(g, g)
    cells = np.c_[xx.ravel(), yy.ravel()]
    lp, lq = log_density(cells), est.score_samples(cells)
    return float(np.sum(np.exp(lp) * (lp - lq)) * (2 * half / n) ** 2)


def test_default_fit_is_close_to_the_truth_in_kl():
    rng = np.random.default_rng(0)
    X = CENTRES[rng.integers(0, 8, 20_000)] + SIGMA * rng.normal(size=(20_000, 2))
    # The CLI's defaults but batches of 512 (the Rust test steadies the fit with a cosine
    # schedule, which the estimator does not expose). Measured KL over seeds 0–3: 0.035–0.051
    # with batches of 512; with the default 256 it depends on the seed (0.03–0.47).
    est = ScoreMatchingDensity(batch_size=512).fit(X)
    kl = kl_from_truth(est)
    # The best single Gaussian is ≈ 1.42 nats from the truth; the Rust test's bound.
    assert kl < 0.12, kl
