"""What every modality's ``bench`` shares (:class:`BenchJob`, the timed fit and sample, the peak
memory) and the table benchmark's extra rows: the two reference rows and the external reference models
(see :mod:`simulacra.bench` for what each field means)."""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BenchJob:
    """One benchmark run of one model, as :meth:`simulacra.modalities.Modality.bench` takes it.

    Attributes
    ----------
    name : str
        The model's registry name.
    params : dict
        Its hyper-parameters (the ``--param`` values routed to it, with the run's ``seed``).
    data, test : str, str or None
        The training source and the real test source (a bundled dataset brings its own).
    target : str or None
        Tables: the column TSTR predicts.
    rows : int
        Items to sample (tables: at least as many as the training rows).
    seed : int
        Sampling and evaluation seed.
    report_dir : Path or None
        Where a modality with :attr:`~simulacra.modalities.Modality.bench_reports` writes
        ``<report_dir>/<name>/report.html``.
    references : bool
        Add the modality's reference rows (once per bench).
    temperatures : list of float or None
        Also sample at each temperature and score precision and recall (``tradeoff``).
    privacy : bool
        Tables: run the privacy attacks.
    """

    name: str
    params: dict[str, Any]
    data: str
    test: str | None
    target: str | None
    rows: int
    seed: int
    report_dir: Path | None = None
    references: bool = False
    temperatures: list[float] | None = None
    privacy: bool = True


def timed_run(name: str, params: dict[str, Any], data: Any, n: int, warm: int, seed: int, modality: str):
    """Fit ``make(name, **params)`` on ``data``, sample ``warm`` items (warm-up), then ``n`` items, timed:
    ``(model, synthetic, result)`` where ``result`` holds the timing fields of the module docstring."""
    from simulacra.synthesizers import make

    model = make(name, **params)
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    model.sample(warm, seed=seed)  # warm-up: first-call allocations are not throughput
    start = time.perf_counter()
    synthetic = model.sample(n, seed=seed)
    sample_s = time.perf_counter() - start
    result = {
        "model": name,
        "modality": modality,
        "params": model.get_params(),
        "fit_s": fit_s,
        "epochs": getattr(model, "epochs_trained_", None),
        "sample_rows_per_s": n / max(sample_s, 1e-9),
        "peak_rss_mb": peak_rss_mb(),  # the callers take it again after evaluating
    }
    return model, synthetic, result


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, MiB (``getrusage``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------- tables
def attack_details(evaluation: Any) -> dict[str, Any]:
    """The attacks' intervals for ``bench.json``: ROC-AUC and TPR intervals of both membership attacks,
    and each risk's interval (inference: the most exposed column's)."""
    mia = evaluation.details.get("membership", {})
    risks = evaluation.details.get("reidentification", {})
    out = {f"{k}_{m}": mia[k][m] for k in ("domias", "dcr") if k in mia for m in ("auc_ci", "tpr_at_fpr_ci")}
    for key in ("singling_out_univariate", "singling_out_multivariate", "linkability", "inference_worst"):
        if key in risks:
            out[key] = {
                k: risks[key][k]
                for k in ("risk", "ci", "attack_rate", "control_rate", "attacks", "beats_baseline")
                if k in risks[key]
            }
    if "inference_worst" in risks:
        out["inference_worst"]["column"] = risks["inference_worst"]["column"]
    return out


#: external reference models: name → (environment variable naming its Python, default Python path
#: relative to the working folder, runner script in :mod:`simulacra.external`)
EXTERNAL: dict[str, tuple[str, str, str]] = {
    "mostlyai-engine": ("SIMULACRA_MOSTLYAI_PYTHON", ".venv-mostlyai/bin/python", "mostlyai_engine.py"),
}
#: longest an external reference may take to fit and sample, seconds
EXTERNAL_TIMEOUT_S = 4 * 3600


def external_pythons() -> dict[str, str]:
    """The external reference models installed here: name → the Python of their environment."""
    found = {}
    for name, (variable, default, _) in EXTERNAL.items():
        path = os.environ.get(variable) or default
        if Path(path).is_file() and os.access(path, os.X_OK):
            found[name] = path
    return found


def external_rows(
    train: Any, real_test: Any, metadata: Any, target: str | None, seed: int, *, privacy: bool = False
) -> dict[str, dict[str, Any]]:
    """Fit, sample and score every installed external reference (:func:`external_pythons`) on
    ``train``: as many rows as ``train``, scored as the models are, with ``fit_s`` as the runner
    measured it. A reference that fails is reported by its last error line (``error``), not raised."""
    import subprocess
    import tempfile
    from importlib import resources

    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for name, python in external_pythons().items():
        script = resources.files("simulacra.external") / EXTERNAL[name][2]
        with tempfile.TemporaryDirectory() as folder, resources.as_file(script) as runner:
            src, out = Path(folder) / "train.parquet", Path(folder) / "synthetic.parquet"
            train.to_parquet(src, index=False)
            proc = subprocess.run(
                [python, str(runner), str(src), str(out), str(len(train)), str(seed)],
                capture_output=True,
                text=True,
                timeout=EXTERNAL_TIMEOUT_S,
            )
            if proc.returncode != 0 or not out.is_file():
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
                rows[name] = {"error": last}
                continue
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            synthetic = pd.read_parquet(out)
        ev = score_table(train, synthetic, metadata, real_test, target, seed, privacy)
        rows[name] = {**ev.flat(), "fit_s": info["fit_s"], "version": info.get("version")}
    return rows


def score_table(
    train: Any, synthetic: Any, metadata: Any, real_test: Any, target: str | None, seed: int, privacy: bool
) -> Any:
    """:func:`simulacra.evaluate.evaluate` of a synthetic table as every bench row is scored: the privacy
    attacks only with ``privacy`` and real test rows for their control set."""
    from simulacra.evaluate import evaluate

    return evaluate(
        train,
        synthetic,
        metadata,
        real_test=real_test,
        target=target,
        seed=seed,
        privacy_attacks=privacy and real_test is not None,
    )


def table_references(
    train: Any, real_test: Any, metadata: Any, target: str | None, seed: int, *, privacy: bool = False
) -> dict[str, dict[str, float]]:
    """The two reference rows of a table benchmark (see the module docstring): ``real holdout`` (half
    of the test rows scored as synthetic, the other half as test, DCR holdout and the attacks' control
    set; needs at least 20 test rows) and ``independent marginals`` (as many rows as ``train`` from the
    ``independent`` model); ``privacy`` runs the attacks on both."""
    from simulacra.evaluate import MIN_ROWS, evaluate
    from simulacra.synthesizers import make

    refs: dict[str, dict[str, float]] = {}
    if real_test is not None and len(real_test) >= 2 * MIN_ROWS:
        order = np.random.default_rng(seed).permutation(len(real_test))
        half = len(real_test) // 2
        fake, holdout = real_test.iloc[order[:half]], real_test.iloc[order[half:]]
        ev = evaluate(
            train, fake, metadata, real_test=holdout, target=target, seed=seed, privacy_attacks=privacy
        )
        refs["real holdout"] = ev.flat()
    marginals = make("independent", seed=seed).fit(train, metadata).sample(len(train), seed=seed)
    ev = score_table(train, marginals, metadata, real_test, target, seed, privacy)
    refs["independent marginals"] = ev.flat()
    return refs
