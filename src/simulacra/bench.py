"""``simulacra bench``: fit several models on one table and tabulate their speed and quality.

Each model runs in a fresh child process (``spawn``), so its peak resident memory is its own and no
model warms caches for the next; there the data's modality plug-in fits, samples and scores it
(:meth:`simulacra.modalities.Modality.bench`, with the shared timing of
:mod:`simulacra.modalities.benchmarking`), and names the table's columns. This module runs the jobs
(repeats, Ray workers) and writes the results. Per model a table benchmark holds:

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

Where an external reference model is installed in its own virtual environment (:data:`~simulacra.modalities.benchmarking.EXTERNAL`:
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
table's, scored by precision and recall on the local CNN's features; an audio model as many
recordings as the table's, scored by local FAD, precision, recall, label agreement and TSTR
(:func:`simulacra.evaluate.audio.temperature_tradeoff`); ``tradeoff.png`` plots precision against
recall, one line per model, and ``bench.md`` lists the numbers. With ``repeats > 1`` every run
sweeps, and each point is the mean ± sd of the runs, as the main row is. Series and text benches
refuse the option.

``bench.json`` (every number) and ``bench.md`` (the table) are written to the output directory.
"""

from __future__ import annotations

import json
import multiprocessing
import platform
import statistics
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.io import atomic_write_bytes, atomic_write_text
from simulacra.synthesizers import model_class


def columns(modality: str) -> list[tuple[str, str, str]]:
    """The bench table's ``(key, title, format)`` columns for a modality's name (its plug-in's
    :attr:`~simulacra.modalities.Modality.bench_columns`)."""
    from simulacra.modalities import named

    return named(modality).bench_columns


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
            raise ConfigError(f"`params` {key}: {model!r} is not among the benchmarked models {models}")
        if not targets or (model and name not in accepted[model]):
            raise ConfigError(f"`params` {key}: no benchmarked model takes a parameter {name!r}")
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
    """Fit, sample and evaluate one model in this process: the data's modality plug-in runs it
    (:meth:`simulacra.modalities.Modality.bench`); see the module docstring for the fields."""
    from simulacra.modalities import of_source
    from simulacra.modalities.benchmarking import BenchJob

    job = BenchJob(
        name, params, data, test, target, rows, seed, report_dir, references, temperatures, privacy
    )
    return of_source(data).bench(job)


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from repeated runs of a model: every numeric field that differs between runs becomes
    its mean, with the sample standard deviation as ``<field>_sd``; fields equal in every run (epochs
    without early stopping, TRTR) and non-numeric ones are kept from the first run; ``runs`` holds the
    runs themselves and ``seeds`` their model seeds. Reference rows that every run computed (the image
    and audio evaluations score them with each run's seeded metrics model) are aggregated the same
    way, so that they are read against the model's mean, not against the first run's yardstick. A
    single run is returned unchanged."""
    if len(runs) == 1:
        return runs[0]
    out = _mean_and_sd(runs)
    if all(r.get("references") for r in runs):
        names = [k for k in runs[0]["references"] if all(k in r["references"] for r in runs)]
        out["references"] = {k: _mean_and_sd([r["references"][k] for r in runs]) for k in names}
    if all(r.get("tradeoff") for r in runs):
        out["tradeoff"] = [
            aggregate_point([r["tradeoff"][j] for r in runs]) for j in range(len(runs[0]["tradeoff"]))
        ]
    out["params"] = {k: v for k, v in runs[0]["params"].items() if k != "seed"}
    out["seeds"] = [r["params"].get("seed") for r in runs]
    out["runs"] = runs
    return out


def aggregate_point(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One temperature's point of the ``--temperatures`` sweep over repeated runs.

    Parameters
    ----------
    points : list of dict
        The same temperature's point from each run, ``{"temperature": 0.85, "precision": ..., ...}``
        (the scores of :data:`TRADEOFF_COLUMNS` the modality's sweep computes).

    Returns
    -------
    dict
        The first point, with each score that differs between runs replaced by its mean and its
        sample standard deviation added as ``<score>_sd`` (as :func:`aggregate` does for the main
        row); the temperature is kept.
    """
    return _mean_and_sd(points, keep=("temperature",))


def _mean_and_sd(rows: list[dict[str, Any]], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The first of ``rows``, with each numeric field (not in ``keep``) that differs between them
    replaced by its mean and its sample standard deviation added as ``<field>_sd``."""
    out = dict(rows[0])
    for key in rows[0]:
        values = [r.get(key) for r in rows]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if key not in keep and numeric and len(set(values)) > 1:
            out[key] = statistics.fmean(values)
            out[f"{key}_sd"] = statistics.stdev(values)
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
        reverse), a parameter no model takes, or ``temperatures`` on a modality whose bench does not
        sweep them (series, texts); errors of a child are re-raised.
    """
    if not models:
        raise ConfigError("give at least one model, e.g. `models` copula,ctgan,tvae")
    if int(repeats) < 1:
        raise ConfigError(f"`repeats` must be at least 1, got {repeats}")
    from simulacra.modalities import of_source
    from simulacra.synthesizers import available

    kind = of_source(data)
    modality = kind.name
    if temperatures and not kind.bench_temperatures:
        raise ConfigError(
            f"--temperatures: the {modality} bench does not sweep sampling temperatures; drop the option "
            "(compare temperatures with `simulacra sample --temperature` and `simulacra evaluate`)"
        )
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
                    temperatures,  # every run, so that the sweep has a spread as the main row has
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


def dependency_versions() -> dict[str, str]:
    """The installed version of each distribution simulacra requires (``pyproject.toml``'s
    ``dependencies``, no extras), name → version: two installs of one release can hold other versions of
    the unpinned ones, and a metric's yardstick (a classifier trained here) moves with them.

    Returns
    -------
    dict
        ``{"torch": "2.13.0+cpu", "numpy": ...}``; ``"not installed"`` for one that is missing (an
        editable checkout whose metadata is stale).
    """
    import re
    from importlib import metadata

    versions: dict[str, str] = {}
    for requirement in metadata.requires("simulacra") or []:
        if "extra ==" in requirement:
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


#: the temperature sweep's columns in ``bench.md``, in order (those a modality's sweep scores)
TRADEOFF_COLUMNS = {
    "precision": "precision",
    "recall": "recall",
    "density": "density",
    "coverage": "coverage",
    "label_agreement": "label agreement",
    "tstr_accuracy": "TSTR",
    "fad": "FAD",
}


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
        "versions": dependency_versions(),
    }
    atomic_write_text(
        directory / "bench.json", json.dumps({"info": info, "results": results}, indent=2) + "\n", force=force
    )
    text = markdown(results)
    curves = [(r["model"], r["tradeoff"]) for r in results if r.get("tradeoff")]
    if curves:
        from simulacra.report.tradeoff import tradeoff_png

        runs = max(len(r.get("runs", [r])) for r in results)
        over = "mean ± sd of the runs" if runs > 1 else "one run"
        lines = ["", f"Precision/recall against the sampling temperature ({over}):", ""]
        keys = [k for k in TRADEOFF_COLUMNS if k in curves[0][1][0]]
        lines += [
            "| model | temperature | " + " | ".join(TRADEOFF_COLUMNS[k] for k in keys) + " |",
            "|---|---:|" + "---:|" * len(keys),
        ]
        for name, points in curves:
            lines += [
                f"| {name} | {p['temperature']:g} | "
                + " | ".join(cells(p, [(k, k, "{:.3f}") for k in keys]))
                + " |"
                for p in points
            ]
        text += "\n".join(lines) + "\n"
        atomic_write_bytes(directory / "tradeoff.png", tradeoff_png(curves), force=force)
    atomic_write_text(directory / "bench.md", text, force=force)


def _cores() -> int:
    from simulacra.synthesizers.training import available_cores

    return available_cores()
