"""The docs site's generated parts (docs/hooks.py): every bench output renders, a headline row comes
from its bench.json, and the CLI reference lists every command with its options. ``make docs`` builds
the whole site with ``--strict`` in CI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_headline_rows_come_from_the_bench_outputs(hooks):
    data = json.loads((ROOT / "benchmarks/results/housing-mixture/bench.json").read_text())
    fit = data["results"][0]["fit_s"]
    row = hooks.on_page_markdown("<!-- bench-row housing-mixture | mixture | the default -->")
    assert row.startswith("| the default | ") and f"{fit:.1f}" in row and row.count("|") == 8
    floor = hooks.on_page_markdown(
        "<!-- bench-row housing-mixture | reference: independent marginals | the floor -->"
    )
    assert "0.002" in floor  # the floor's XGBoost detection
    with pytest.raises(KeyError, match="no row 'ctgan'"):
        hooks.on_page_markdown("<!-- bench-row housing-mixture | ctgan | x -->")
    with pytest.raises(FileNotFoundError, match="no bench output"):
        hooks.on_page_markdown("<!-- bench-row nowhere | mixture | x -->")


def test_every_bench_output_and_the_cli_reference_render(hooks):
    page = hooks.on_page_markdown("<!-- bench-results -->")
    names = [name for name, _ in hooks._outputs()]
    assert {"adult-mixture", "bank-mixture", "housing-mixture"} <= set(names)
    assert all(f"## {name}" in page for name in names) and "<!--" not in page
    reference = hooks.on_page_markdown("<!-- cli-reference -->")
    for command in ("fit", "sample", "evaluate", "bench", "mix", "inspect"):
        assert f"## `simulacra {command}`" in reference
    assert "`--repeats`" in reference and "`-o`, `--output`" in reference
