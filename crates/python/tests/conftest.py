"""Shared helpers of the package's tests."""

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cli():
    """The `scorematch` binary: $SCOREMATCH_BIN, else the workspace's release or debug build
    (`.ci/run` builds it with `cargo test --workspace`); a missing binary fails the test."""
    candidates = [os.environ.get("SCOREMATCH_BIN")]
    candidates += [str(ROOT / "target" / p / "scorematch") for p in ("release", "debug")]
    candidates.append(shutil.which("scorematch"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.fail("no scorematch binary: build it with `cargo build -p scorematch-cli` or set SCOREMATCH_BIN")
