"""Shared fixtures: the bundled Adult table (real data) and small hostile tables."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from simulacra.datasets import load

#: the slowest test files (about a minute or more each on one core), started first: with one file per
#: worker, the suite ends when the last file started ends, so that one should be short (longest
#: processing time first). A stale list costs time, never a result.
SLOWEST_FIRST = (
    "test_neural",
    "test_hostile_cli",
    "test_series",  # with the slow tests, the series bench (about 2 minutes) starts first
    "test_image_experiments",
    "test_cli",
    "test_scale",
    "test_image_models",
    "test_experiments",
    "test_privacy_attacks",
    "test_dp",
    "test_image_eval",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test files in :data:`SLOWEST_FIRST` order, then the rest; a file's tests keep their order."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: within a file unchanged


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, pin each worker to its own share of the cores.

    Every fit runs torch (and the BLAS pools) with as many threads as the process may use; two workers
    each spinning two threads on two cores slow each other by far more than they gain. Pinned, each
    worker (and every subprocess it starts, which inherits the mask) sees only its own cores.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... only inside a worker
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index = int(worker.removeprefix("gw"))
    mine = cores[index::count] if len(cores) >= count else cores
    os.sched_setaffinity(0, mine)


@pytest.fixture(scope="session")
def adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load("adult")


@pytest.fixture(scope="session")
def adult_small(adult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """3,000 training and 1,500 test rows of Adult, fixed seed."""
    train, test = adult
    return train.sample(3000, random_state=0).reset_index(drop=True), test.sample(
        1500, random_state=0
    ).reset_index(drop=True)


@pytest.fixture()
def hostile() -> pd.DataFrame:
    """A table of awkward columns: all-null, constant, unicode, 10,000 levels, mixed types, two date formats."""
    rng = np.random.default_rng(0)
    n = 20_000
    dates_a = pd.date_range("2020-01-01", periods=n // 2, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    dates_b = pd.date_range("2021-06-01", periods=n - n // 2, freq="h").strftime("%d/%m/%Y %H:%M")
    mixed = rng.integers(0, 50, n).astype(object)
    mixed[rng.random(n) < 0.1] = "unknown"
    return pd.DataFrame(
        {
            "all_null": [None] * n,
            "constant": 7,
            "unicode": rng.choice(["東京", "München", "São Paulo", "Zürich 🚀"], n),
            "many_levels": [f"level-{i}" for i in rng.integers(0, 10_000, n)],
            "mixed": mixed,
            "when": np.concatenate([dates_a, dates_b]),
            "amount": np.round(rng.lognormal(3, 1, n), 2),
            "flag": rng.random(n) < 0.3,
        }
    )


def _postgres_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL cluster on a free loopback port, owned by this test run.

    Uses Debian's server binaries (``.ci/run`` installs ``postgresql`` and sets
    ``SIMULACRA_REQUIRE_POSTGRES=1``, which turns a missing server into a failure instead of a skip).
    As root, the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root).
    """
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs Debian's postgresql"
        )
        if os.environ.get("SIMULACRA_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="simulacra-pg-", dir="/tmp")
    prefix = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)  # noqa: E731
    run(initdb, "-D", data, "-U", "sim", "--auth=trust", "--encoding=UTF8", "--no-sync")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", data, "-o", options, "-l", f"{data}/server.log", "-w", "start")
    try:
        yield f"postgresql+psycopg://sim@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_external_references(monkeypatch):
    """``simulacra bench`` adds rows for external references installed beside the checkout
    (``.venv-mostlyai``); the tests' tables must not depend on what a developer installed."""
    monkeypatch.setenv("SIMULACRA_MOSTLYAI_PYTHON", "/nonexistent/simulacra-test/python")
