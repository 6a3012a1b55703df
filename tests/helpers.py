"""Assertions shared by the neural-model tests.

Seeded fits are reproducible, but not always bit for bit: now and then (about 1 run in 10 on the
development machine) the first fit in a process differs from a later one by ~1e-6 in the weights. This
is float reduction order in the CPU kernels, not seeding. So a refit is compared with a tolerance far
below what another seed gives: with seeds 0 and 1 the weights of these tiny fits differ by ~1e-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def weights(model) -> dict[str, torch.Tensor]:
    """Every network parameter and buffer of a neural synthesizer, cloned, by ``module.name``."""
    return {f"{m}.{k}": v.clone() for m, mod in model._modules().items() for k, v in mod.state_dict().items()}


def assert_same_weights(a, b) -> None:
    """The two fitted models hold the same weights, up to float reduction order."""
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    worst = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa if wa[k].numel())
    assert worst < 1e-4, f"weights differ by up to {worst:g}"


def assert_same_history(a: list[dict[str, float]], b: list[dict[str, float]]) -> None:
    """Per-epoch losses equal up to float reduction order."""
    assert len(a) == len(b) and all(x.keys() == y.keys() for x, y in zip(a, b, strict=True))
    for x, y in zip(a, b, strict=True):
        assert all(np.isclose(x[k], y[k], rtol=1e-4, atol=1e-6) for k in x), (x, y)


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Sampled tables equal: categories exactly, numbers to 1e-3 relative."""
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-3)


def assert_same_images(a: np.ndarray, b: np.ndarray) -> None:
    """Sampled uint8 images equal up to one grey level (a rounding boundary)."""
    assert a.shape == b.shape
    worst = int(np.abs(a.astype(int) - b.astype(int)).max()) if a.size else 0
    assert worst <= 1, f"images differ by up to {worst} grey levels"


def chromium_plots(page, tmp_path) -> tuple[int, int, int]:
    """Open ``page`` in headless Chromium: ``(plots the page declares, plots that decoded, screenshot
    bytes)``. Needs Debian's ``chromium`` (``.ci/run`` installs it); without it the calling test is
    skipped at this point, after its other assertions, as ``.ci/run``'s warning says."""
    import re
    import shutil
    import subprocess

    import pytest

    if shutil.which("chromium") is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium renders the report)")

    args = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    url = page.as_uri()
    dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    expected = int(re.search(r'data-plots="(\d+)"', dom).group(1))
    rendered = re.search(r'data-plots-rendered="(\d+)"', dom)
    shot = tmp_path / "page.png"
    subprocess.run(
        [*args, "--window-size=1280,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120
    )
    return expected, int(rendered.group(1)) if rendered else -1, shot.stat().st_size if shot.exists() else 0
