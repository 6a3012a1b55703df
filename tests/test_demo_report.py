"""The main job: `simulacra demo` on the full bundled Adult table, and its report in headless Chromium."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import chromium_plots
from simulacra.cli import main

#: the main job at its real size (the whole Adult table): `make test-slow` and .ci/run run it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "-o", str(out)]) == 0
    return out


def test_demo_writes_run_directory_and_meets_quality_bar(demo_run):
    names = sorted(p.name for p in demo_run.iterdir())
    assert names == [
        ".simulacra",
        "metadata.json",
        "metrics.json",
        "model",
        "report.html",
        "run.log",
        "synthetic.parquet",
    ]
    metrics = json.loads((demo_run / "metrics.json").read_text())["metrics"]
    # the demo runs the fast default (the mixture); these are loose floors a broken model fails (a
    # model of the marginals alone: trends 0.925, detection_xgb 0.02, TSTR 0.56), not the bench's targets
    assert metrics["fidelity"]["column_shapes"] >= 0.97
    assert metrics["fidelity"]["column_pair_trends"] >= 0.95
    assert metrics["fidelity"]["detection_xgb"] >= 0.4
    assert metrics["utility"]["tstr_roc_auc"] >= 0.85
    assert 0.9 <= metrics["utility"]["trtr_roc_auc"] <= 0.95
    assert 0.4 <= metrics["privacy"]["dcr_share"] <= 0.6


def test_report_is_self_contained(demo_run):
    html = (demo_run / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert html.count("data:image/png;base64,") == 16  # 15 columns + the heatmaps
    assert "tstr_roc_auc" in html and "ROC-AUC on real test rows" in html


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_report_renders_in_headless_chromium(demo_run, tmp_path):
    expected, rendered, shot = chromium_plots(demo_run / "report.html", tmp_path)
    assert rendered == expected == 16
    assert shot > 50_000  # a page with plots, not a blank one
