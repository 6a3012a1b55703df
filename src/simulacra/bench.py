"""``simulacra bench``: fit several models on one table and tabulate their speed and quality.

Each model runs in a fresh child process (``spawn``), so its peak resident memory is its own and no
model warms caches for the next. Per model the table holds:

* ``fit_s`` — wall-clock seconds of ``fit`` (transformer included), and ``epochs`` trained;
* ``sample_rows_per_s`` — rows generated per second by ``sample(rows)`` after a 1,000-row warm-up;
* ``peak_rss_mb`` — the child's peak resident set size (``getrusage``) after fitting and sampling, before the
  evaluation (whose attacks hold their own tables), MiB, data and libraries included;
* the headline metrics of :func:`simulacra.evaluate.evaluate` on as many synthetic rows as real training
  rows: column shapes, pair trends, detection (XGBoost first, then logistic and HistGradientBoosting),
  TSTR/TRTR ROC-AUC (or R² for a numerical target), DCR share, exact-copy rate;
* with ``privacy`` (the default; ``--no-privacy`` skips them) the privacy attacks, the test rows as the
  control set: DOMIAS and DCR membership-inference ROC-AUC and DOMIAS's true-positive rate at 1 %
  false positives, and the singling-out, linkability and attribute-inference risks
  (:mod:`simulacra.evaluate.anonymity`); for a differentially private model, the ε it spent.

Two reference rows follow the models of a table benchmark, so that every table shows both ends of each
scale: ``reference: real holdout`` scores half of the real test rows as if they were synthetic (TSTR
trains on them and tests on the other half, which is also the DCR holdout): the ceiling a perfect
generator reaches; ``reference: independent marginals`` scores the ``independent`` model (every column
drawn on its own from its real marginal): the floor, which the shapes score and the logistic detector
cannot tell from a good model, and the tree detectors can.

Where an external reference model is installed in its own virtual environment (:data:`EXTERNAL`:
``mostlyai-engine``'s TabularARGN, the open CPU peer, found through ``SIMULACRA_MOSTLYAI_PYTHON`` or
``.venv-mostlyai/bin/python`` in the working folder, e.g. after ``make bench-external``), a table
benchmark also fits it at its defaults on the same rows, in that environment's Python, and scores it
like the models: the row ``external: mostlyai-engine`` (fit seconds included). It is never a
dependency of simulacra; where it is not installed the row is left out.

On a text dataset (``--data sms``) the models are text synthesizers (default ``textgpt``); each samples
``min(rows, training texts)`` texts (timed), which :func:`simulacra.evaluate.text.evaluate_texts` scores
(TSTR/TRTR, label agreement, copies against the holdout's own rate, distinct-n, self-BLEU, Fréchet
distance, detection, perplexity); the reference rows and ``real + EDA`` (TRTR with one EDA copy of
every training text) follow, and each model's ``report.html`` goes to ``<output>/<model>/``.

On an image dataset (``--data mnist``) the models are image synthesizers; each samples ``min(rows,
10,000)`` images (timed), which :func:`simulacra.evaluate.image.evaluate_images` scores: local FID/KID,
precision/recall, TSTR/TRTR accuracy, label agreement and the nearest-neighbour distance ratio. The
reference rows (real test images, blurred real images, noise) follow the models in the table, and each
model's ``report.html`` (sample grids, nearest neighbours, training curves) is written to
``<output>/<model>/``.

With ``repeats > 1`` every model is fitted, sampled and evaluated that many times, run ``i`` with model
seed ``seed + i`` (the model's own ``seed``, default or ``--param``, plus ``i``) and sampling/evaluation
seed ``--seed + i``; the table shows each number as mean ± sample standard deviation, and
``bench.json`` keeps every run. One fit of a GAN is one draw: on Adult, CTGAN's TSTR ROC-AUC spread over
0.879–0.895 across three seeds.

With ``temperatures`` (``--temperatures 0.5,0.75,1,1.25,1.5``), every model that has a sampling
temperature (:attr:`~simulacra.synthesizers.BaseSynthesizer.supports_temperature`) also samples at
each temperature — a table model as many rows as the training table, scored by precision, recall,
density and coverage (:mod:`simulacra.evaluate.diversity`); an image model as many images as the
table's, scored by precision and recall on the local CNN's features; ``tradeoff.png`` plots precision
against recall, one line per model, and ``bench.md`` lists the numbers.

``bench.json`` (every number) and ``bench.md`` (the table) are written to the output directory.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from simulacra.errors import ConfigError
from simulacra.io import atomic_write_bytes, atomic_write_text, redact_url
from simulacra.synthesizers import model_class

COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "sample rows/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("column_shapes", "shapes", "{:.3f}"),
    ("column_pair_trends", "trends", "{:.3f}"),
    ("detection_xgb", "detection (XGB)", "{:.3f}"),
    ("detection", "detection (logistic)", "{:.3f}"),
    ("detection_gbm", "detection (GBM)", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("tstr_roc_auc", "TSTR AUC", "{:.3f}"),
    ("trtr_roc_auc", "TRTR AUC", "{:.3f}"),
    ("tstr_r2", "TSTR R²", "{:.3f}"),
    ("trtr_r2", "TRTR R²", "{:.3f}"),
    ("dcr_share", "DCR share", "{:.3f}"),
    ("exact_copy_rate", "exact copies", "{:.2%}"),
    ("epsilon", "ε spent", "{:.2f}"),
    ("membership_auc", "MIA AUC (DOMIAS)", "{:.3f}"),
    ("membership_tpr_at_1pct_fpr", "MIA TPR@1%FPR", "{:.3f}"),
    ("dcr_membership_auc", "MIA AUC (DCR)", "{:.3f}"),
    ("singling_out_risk", "singling out", "{:.3f}"),
    ("linkability_risk", "linkability", "{:.3f}"),
    ("inference_risk", "inference", "{:.3f}"),
    ("real_identifiers", "real ids", "{:.0f}"),
]
IMAGE_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "images/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("fid", "FID (local)", "{:.2f}"),
    ("kid", "KID", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("tstr_accuracy", "TSTR acc", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc", "{:.3f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("nn_distance_ratio", "NN distance ratio", "{:.2f}"),
]
IMAGE_ROWS = 10_000
TEXT_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "texts/s", "{:,.1f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("tstr_accuracy", "TSTR acc", "{:.3f}"),
    ("minority_f1", "TSTR minority F1", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc", "{:.3f}"),
    ("trtr_minority_f1", "TRTR minority F1", "{:.3f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("exact_copy_rate", "exact copies", "{:.1%}"),
    ("holdout_copy_rate", "holdout copies", "{:.1%}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("real_distinct_2", "real distinct-2", "{:.3f}"),
    ("self_bleu", "self-BLEU", "{:.3f}"),
    ("frechet", "Fréchet", "{:.4f}"),
    ("detection_text", "detection", "{:.3f}"),
    ("perplexity", "perplexity", "{:.1f}"),
    ("bits_per_char", "bits/char", "{:.2f}"),
]
#: the EDA pipeline whose effect on TRTR a text benchmark reports (``reference: real + EDA``)
EDA_STEPS = [
    {"op": "synonym_replacement", "p": 0.1},
    {"op": "random_insertion", "p": 0.1},
    {"op": "random_swap", "p": 0.1},
    {"op": "random_deletion", "p": 0.1},
]


def columns(modality: str) -> list[tuple[str, str, str]]:
    """The table's ``(key, title, format)`` columns for ``"table"``, ``"image"`` or ``"text"`` benchmarks."""
    return {"image": IMAGE_COLUMNS, "text": TEXT_COLUMNS}.get(modality, COLUMNS)


def split_params(models: list[str], params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Route ``--param`` values to models: ``name=value`` goes to every model that takes ``name``;
    ``model.name=value`` only to ``model``.

    Raises
    ------
    ConfigError
        A parameter no listed model takes, or an unknown model.
    """
    accepted = {m: set(model_class(m).param_names()) for m in models}
    routed: dict[str, dict[str, Any]] = {m: {} for m in models}
    for key, value in params.items():
        model, _, name = key.rpartition(".")
        targets = [model] if model else [m for m in models if name in accepted[m]]
        if model and model not in accepted:
            raise ConfigError(f"--param {key}: {model!r} is not among the benchmarked models {models}")
        if not targets or (model and name not in accepted[model]):
            raise ConfigError(f"--param {key}: no benchmarked model takes a parameter {name!r}")
        for m in targets:
            routed[m][name] = value
    return routed


def bench_one(
    name: str,
    params: dict[str, Any],
    data: str,
    test: str | None,
    target: str | None,
    rows: int,
    seed: int,
    report_dir: Path | None = None,
    references: bool = False,
    temperatures: list[float] | None = None,
    privacy: bool = True,
) -> dict[str, Any]:
    """Fit, sample and evaluate one model in this process; see the module docstring for the fields.
    With ``references`` (tables), the result also holds :func:`table_references`, computed after every
    timing and the peak memory were taken; with ``temperatures``, a ``tradeoff`` list of
    ``{temperature, precision, recall, density, coverage}``; ``privacy`` runs the privacy attacks on
    tables."""
    from simulacra.modalities import of_source

    modality = of_source(data).name
    if modality == "image":
        return bench_images(name, params, data, test, rows, seed, report_dir, temperatures)
    if modality == "text":
        return bench_texts(name, params, data, test, rows, seed, report_dir, references)
    from simulacra.evaluate import evaluate
    from simulacra.synthesizers import make
    from simulacra.workflow import resolve_table, table_metadata

    source = resolve_table(data, test=test, target=target)
    train, real_test, target = source.train, source.test, source.target
    metadata = table_metadata(train, None, target)
    model = make(name, **params)
    start = time.perf_counter()
    model.fit(train, metadata)
    fit_s = time.perf_counter() - start
    n = max(int(rows), len(train))
    model.sample(1000, seed=seed)  # warm-up: first-call allocations are not throughput
    start = time.perf_counter()
    synthetic = model.sample(n, seed=seed)
    sample_s = time.perf_counter() - start
    peak = _peak_rss_mb()
    evaluation = evaluate(
        train,
        synthetic.iloc[: len(train)],
        metadata,
        real_test=real_test,
        target=target,
        seed=seed,
        privacy_attacks=privacy and real_test is not None,
    )
    spent = getattr(model, "privacy_", None)
    result = {
        "model": name,
        "modality": "table",
        "params": model.get_params(),
        "fit_s": fit_s,
        "epochs": getattr(model, "epochs_trained_", None),
        "sample_rows_per_s": n / max(sample_s, 1e-9),
        "peak_rss_mb": peak,
        **evaluation.flat(),
        **({"epsilon": spent["epsilon"], "privacy": spent} if spent else {}),
        **({"attacks": _attack_details(evaluation)} if privacy and real_test is not None else {}),
    }
    if temperatures and model.supports_temperature:
        from simulacra.evaluate.diversity import diversity

        result["tradeoff"] = []
        for tau in temperatures:
            rows_t = model.sample(len(train), seed=seed, temperature=tau)
            div = diversity(train, rows_t, metadata, seed=seed)
            result["tradeoff"].append(
                {"temperature": tau, **{k: div[k] for k in ("precision", "recall", "density", "coverage")}}
            )
    if references:
        result["references"] = table_references(train, real_test, metadata, target, seed, privacy=privacy)
        result["external"] = external_rows(train, real_test, metadata, target, seed, privacy=privacy)
    return result


def _attack_details(evaluation: Any) -> dict[str, Any]:
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
        ev = _score(train, synthetic, metadata, real_test, target, seed, privacy)
        rows[name] = {**ev.flat(), "fit_s": info["fit_s"], "version": info.get("version")}
    return rows


def _score(
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
    ev = _score(train, marginals, metadata, real_test, target, seed, privacy)
    refs["independent marginals"] = ev.flat()
    return refs


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
        "peak_rss_mb": _peak_rss_mb(),  # the callers take it again after evaluating
    }
    return model, synthetic, result


def _peak_rss_mb() -> float:
    """This process's peak resident set size so far, MiB (``getrusage``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_images(
    name: str,
    params: dict[str, Any],
    data: str,
    test: str | None,
    rows: int,
    seed: int,
    report_dir: Path | None = None,
    temperatures: list[float] | None = None,
) -> dict[str, Any]:
    """:func:`bench_one` for an image synthesizer on an image dataset (bundled name, .npz, IDX, folder);
    with ``temperatures``, precision and recall (Kynkäänniemi et al. 2019, the local CNN's features) of
    as many images at each temperature, in ``tradeoff``."""
    from simulacra.workflow import evaluate_image_sets, resolve_images

    train, real_test = resolve_images(data, test=test)
    n = min(int(rows), IMAGE_ROWS)
    model, synthetic, result = timed_run(name, params, train, n, 100, seed, "image")
    recon = None
    if real_test is not None and hasattr(model, "reconstruct"):
        recon = (real_test.images, model.reconstruct(real_test))
    info = {
        "model": repr(model),
        "data": redact_url(data),
        "fit seconds": round(result["fit_s"], 1),
        "images": n,
    }
    evaluation, report = evaluate_image_sets(
        train,
        synthetic,
        real_test,
        seed=seed,
        title=f"simulacra bench: {name} on {redact_url(data)}",
        model=model,
        info=info,
        reconstructions=recon,
    )
    result |= {
        **evaluation.flat(),
        "references": evaluation.details["references"],
        "peak_rss_mb": _peak_rss_mb(),
    }
    if temperatures:
        from simulacra.evaluate.image import features, precision_recall, real_classifier

        cnn = real_classifier(train, seed=seed)
        real_feat = features(cnn, train.images)
        result["tradeoff"] = [
            {
                "temperature": tau,
                **precision_recall(
                    real_feat, features(cnn, model.sample(n, seed=seed, temperature=tau).images), seed=seed
                ),
            }
            for tau in temperatures
        ]
    if report_dir is not None:
        report.to_json(report_dir / name / "metrics.json", force=True)
        report.to_html(report_dir / name / "report.html", force=True)
    return result


def bench_texts(
    name: str,
    params: dict[str, Any],
    data: str,
    test: str | None,
    rows: int,
    seed: int,
    report_dir: Path | None = None,
    references: bool = False,
) -> dict[str, Any]:
    """:func:`bench_one` for a text synthesizer on labelled texts (``sms``, a text file or folder): fit,
    sample ``min(rows, training texts)`` texts (timed, class-balanced) and score them with
    :func:`simulacra.evaluate.text.evaluate_texts`, the model's perplexity included. With
    ``references``, the reference rows (real test, shuffled words, random text) and ``real + EDA``: TRTR
    with one EDA copy of every training text (:data:`EDA_STEPS`) added, the augmentation's effect."""
    from simulacra.workflow import evaluate_text_sets, resolve_texts

    train, real_test = resolve_texts(data, test=test)
    n = min(int(rows), len(train))
    model, synthetic, result = timed_run(name, params, train, n, 32, seed, "text")
    info = {
        "model": repr(model),
        "data": redact_url(data),
        "fit seconds": round(result["fit_s"], 1),
        "texts": n,
    }
    evaluation, report = evaluate_text_sets(
        train,
        synthetic,
        real_test,
        seed=seed,
        title=f"simulacra bench: {name} on {redact_url(data)}",
        model=model,
        info=info,
    )
    result |= {
        **evaluation.flat(),
        "real_distinct_2": evaluation.details["real"]["distinct_2"],
        "peak_rss_mb": _peak_rss_mb(),
    }
    if references:
        refs = dict(evaluation.details.get("references", {}))
        if real_test is not None and train.labels is not None:
            from simulacra.augment.text import TextAugmenter, augment_texts
            from simulacra.evaluate.text import augmentation_effect

            copies = augment_texts(train, TextAugmenter(EDA_STEPS), copies=1, seed=seed)
            e = augmentation_effect(train, copies, real_test, seed=seed)
            refs["real + EDA (TRTR with one copy)"] = {
                "trtr_accuracy": e["augmented_accuracy"],
                "trtr_minority_f1": e["augmented_minority_f1"],
            }
        result["references"] = refs
    if report_dir is not None:
        report.to_json(report_dir / name / "metrics.json", force=True)
        report.to_html(report_dir / name / "report.html", force=True)
    return result


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from repeated runs of a model: every numeric field that differs between runs becomes
    its mean, with the sample standard deviation as ``<field>_sd``; fields equal in every run (epochs
    without early stopping, TRTR) and non-numeric ones are kept from the first run; ``runs`` holds the
    runs themselves and ``seeds`` their model seeds. A single run is returned unchanged."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in runs[0]:
        values = [r.get(key) for r in runs]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 1:
            out[key] = statistics.fmean(values)
            out[f"{key}_sd"] = statistics.stdev(values)
    out["params"] = {k: v for k, v in runs[0]["params"].items() if k != "seed"}
    out["seeds"] = [r["params"].get("seed") for r in runs]
    out["runs"] = runs
    return out


def cells(result: dict[str, Any], cols: list[tuple[str, str, str]]) -> list[str]:
    """The table cells of one result: formatted values, ``mean ± sd`` after repeats, ``–`` if missing."""
    out = []
    for key, _, fmt in cols:
        value, sd = result.get(key), result.get(f"{key}_sd")
        cell = "–" if value is None else fmt.format(value)
        out.append(cell if sd is None or value is None else f"{cell} ± {fmt.format(sd)}")
    return out


def run_bench(
    models: list[str],
    data: str = "adult",
    *,
    test: str | None = None,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    rows: int = 100_000,
    seed: int = 0,
    repeats: int = 1,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    report_dir: Path | None = None,
    temperatures: list[float] | None = None,
    privacy: bool = True,
    workers: int | None = None,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Benchmark ``models`` (registry names) on ``data`` (bundled name, file or SQL URL), each in a fresh
    process, one after another, ``repeats`` times with successive seeds (see the module docstring;
    results through :func:`aggregate`). ``params`` are ``--param`` values routed by
    :func:`split_params`. Image benchmarks write each model's report under ``report_dir`` when given
    (the first run's, after repeats).

    With ``workers=K`` every (model, repeat) run is a Ray task in a fresh worker process with one CPU,
    at most ``K`` at a time (:func:`simulacra.scale.distributed.run_tasks`; ``address``: a cluster,
    else a local instance). The quality numbers are the same as one after another (same seeds); the
    times and peak memory are those of a run with one core beside ``K − 1`` others, so compare them
    only within one bench.

    Raises
    ------
    ConfigError
        No models, an unknown model, a model of the other modality (a table model on images or the
        reverse) or a parameter no model takes; errors of a child are re-raised.
    """
    if not models:
        raise ConfigError("give at least one model, e.g. --models copula,ctgan,tvae")
    if int(repeats) < 1:
        raise ConfigError(f"--repeats must be at least 1, got {repeats}")
    from simulacra.modalities import of_source
    from simulacra.synthesizers import available

    modality = of_source(data).name
    wrong = [m for m in models if model_class(m).modality != modality]
    if wrong:
        fitting = [m for m in available() if model_class(m).modality == modality]
        raise ConfigError(
            f"{', '.join(wrong)}: not for {modality} data like {data!r}; use {', '.join(fitting)}"
        )
    routed = split_params(models, dict(params or {}))
    from simulacra.synthesizers import make

    for name in models:
        make(name, **routed[name])  # every parameter checked before any process starts
    jobs = []  # (name, repeat) → the arguments of bench_one
    for m, name in enumerate(models):
        base = int(routed[name].get("seed", model_class(name)().get_params()["seed"]))
        for i in range(int(repeats)):
            run_params = {**routed[name], "seed": base + i} if repeats > 1 else routed[name]
            jobs.append(
                (
                    name,
                    run_params,
                    data,
                    test,
                    target,
                    rows,
                    seed + i,
                    report_dir if i == 0 else None,
                    i == 0 and m == 0,  # the reference rows, once
                    temperatures if i == 0 else None,
                    privacy,
                )
            )
    if workers is not None:
        from simulacra.scale.distributed import run_tasks

        done = run_tasks(bench_one, jobs, workers=workers, address=address, fresh_process=True)
    else:
        done = []
        for job in jobs:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                done.append(pool.submit(bench_one, *job).result())
                if on_result and len(done) % int(repeats) == 0:  # a model's last repeat: show it now
                    on_result(aggregate(done[-int(repeats) :]))
    results = [aggregate(done[k : k + int(repeats)]) for k in range(0, len(done), int(repeats))]
    if on_result and workers is not None:
        for result in results:
            on_result(result)
    return results


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results, followed by the external reference rows (``external: mostlyai-engine``) and the
    reference rows (``reference: real holdout`` …) of the first result that has them."""
    refs = next((r["references"] for r in results if r.get("references")), {})
    external = next((r["external"] for r in results if r.get("external")), {})
    rows = [{"model": f"external: {k}", **v} for k, v in external.items() if "error" not in v]
    return results + rows + [{"model": f"reference: {k}", **v} for k, v in refs.items()]


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (missing metrics shown as ``–``; a column no row has, such as
    TSTR R² on a classification table, is left out)."""
    cols = columns(results[0].get("modality", "table") if results else "table")
    rows = table_rows(results)
    cols = [c for c in cols if c[0] == "model" or any(r.get(c[0]) is not None for r in rows)]
    head = "| " + " | ".join(title for _, title, _ in cols) + " |"
    rule = "|" + "|".join("---" if k == "model" else "---:" for k, _, _ in cols) + "|"
    lines = [head, rule]
    for r in rows:
        lines.append("| " + " | ".join(cells(r, cols)) + " |")
    return "\n".join(lines) + "\n"


def write_results(
    results: list[dict[str, Any]], directory: Path, info: dict[str, Any], *, force: bool
) -> None:
    """Write ``bench.json`` and ``bench.md`` into ``directory`` (each atomically)."""
    from datetime import UTC, datetime

    from simulacra import __version__

    info = {
        **info,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "simulacra_version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": _cores(),
    }
    atomic_write_text(
        directory / "bench.json", json.dumps({"info": info, "results": results}, indent=2) + "\n", force=force
    )
    text = markdown(results)
    curves = [(r["model"], r["tradeoff"]) for r in results if r.get("tradeoff")]
    if curves:
        from simulacra.report.tradeoff import tradeoff_png

        lines = ["", "Precision/recall against the sampling temperature (first run of each model):", ""]
        keys = [k for k in ("precision", "recall", "density", "coverage") if k in curves[0][1][0]]
        lines += ["| model | temperature | " + " | ".join(keys) + " |", "|---|---:|" + "---:|" * len(keys)]
        for name, points in curves:
            lines += [
                f"| {name} | {p['temperature']:g} | " + " | ".join(f"{p[k]:.3f}" for k in keys) + " |"
                for p in points
            ]
        text += "\n".join(lines) + "\n"
        atomic_write_bytes(directory / "tradeoff.png", tradeoff_png(curves), force=force)
    atomic_write_text(directory / "bench.md", text, force=force)


def _cores() -> int:
    from simulacra.synthesizers.training import available_cores

    return available_cores()
