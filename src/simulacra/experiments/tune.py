"""Hyper-parameter search for a table synthesizer: Ray Tune trials, proposed by Optuna's TPE.

References
----------
* Liaw et al., "Tune: A Research Platform for Distributed Model Selection and Training", ICML AutoML
  workshop 2018 (Ray Tune runs the trials, at most ``workers`` at a time, locally or on a cluster).
* Akiba et al., "Optuna: A Next-generation Hyperparameter Optimization Framework", KDD 2019, and
  Bergstra et al., "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011 (the tree-structured
  Parzen estimator, TPE, that proposes each trial's parameters).
* Kotelnikov et al., "TabDDPM: Modelling Tabular Data with Diffusion Models", ICML 2023, §4: every
  generator's hyper-parameters are searched with Optuna, scored by the ML efficiency (TSTR) of a model
  trained on its samples and evaluated on a *validation* split; the test split is used once, at the end.

Protocol
--------
1. The training table is split once (seed ``seed``): ``1 − validation`` of its rows fit the models
   (stratified by the target's classes for classification), ``validation`` of them score them. The test
   table plays no part in the search.
2. Each trial fits ``model`` with the trial's parameters (the ``params`` given stay fixed; the model's
   ``seed`` is the same in every trial, so trials differ by their parameters only), samples as many rows
   as the fitting part holds, and scores them against the validation rows:

   * ``detection`` — the C2ST score of an XGBoost classifier telling the synthetic rows from the
     validation rows (:func:`simulacra.evaluate.fidelity.detection`): 1 = indistinguishable, 0 = always
     told apart;
   * ``utility`` — the share of the real rows' downstream skill that the synthetic rows keep: TSTR over
     TRTR of a HistGradientBoosting model (:class:`simulacra.evaluate.utility.Downstream`) predicting
     ``target`` on the validation rows, measured from chance: ``(TSTR − 0.5) / (TRTR − 0.5)`` for ROC-AUC,
     ``TSTR / TRTR`` for R², clipped to [0, 1];
   * ``score`` — what the search maximises: ``(detection + utility) / 2`` (``objective="combined"``, the
     default), or one of the two alone.

3. Trial 0 is the model's defaults (those inside the space), so the report shows what the search gained
   over them. Optuna's TPE sampler (seeded) proposes the others: its first 10 at random, then from the
   scores so far.
4. The best trial's parameters are written out; with ``refit`` they are fitted on the whole training
   table, and the model is scored once on the test table (the honest number; the best validation score
   is biased upwards by the selection).

Where this differs from TabDDPM's search
----------------------------------------
TabDDPM scores trials by TSTR alone, averaged over 5 sampling seeds, and searches the number of training
steps too. Here the score adds the detection C2ST (a generator that only learns what predicts the target
can reach TSTR = TRTR and still be easy to tell from real rows), each trial samples once, and
epochs/iterations stay as given (``--param epochs=…``): the search compares parameters at a fixed budget.
One fit of a GAN is one draw: seed-to-seed spread (CTGAN's TSTR ROC-AUC varies by ~0.016 across seeds on
Adult) can exceed the gain of a parameter change, so a small gain deserves a ``bench --repeats`` check.

Reproducibility: with ``workers=1`` the same seed gives the same trials and the same best parameters.
With ``workers > 1`` the first 10 trials (random) are still the same, and later proposals depend on
which trials finished first.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import ConfigError, DataError
from simulacra.metadata import Metadata
from simulacra.validation import MAX_SEED, Integer, Real, check_value, load_yaml

#: what a trial can maximise
OBJECTIVES = ("combined", "detection", "utility")
#: TPE's random start: the first proposals are drawn uniformly from the space (Optuna's default)
STARTUP_TRIALS = 10
#: the detection classifier of every trial (the strongest of :func:`~simulacra.evaluate.fidelity.detection`)
DETECTOR = "xgb"
#: the metric whose TSTR/TRTR ratio is the utility, per task, and its chance level
UTILITY_METRIC = {"classification": ("roc_auc", 0.5), "regression": ("r2", 0.0)}


# ------------------------------------------------------------------ search space
def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside brackets: ``"[64, 64],[128]"`` → ``["[64, 64]", "[128]"]``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch in "[(") - (ch in ")]")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _literal(text: str) -> Any:
    """A choice value read as YAML (``64``, ``5e-5``, ``[128, 128]``, ``true``), else the text."""
    import yaml

    try:
        return load_yaml(text)
    except yaml.YAMLError:
        return text


def _number(text: str) -> int | float | None:
    """``"64"`` → 64, ``"5e-5"`` → 5e-05 (YAML 1.1 would read that as text), anything else → ``None``."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else None
    return None


@dataclass(frozen=True)
class Dimension:
    """One searched hyper-parameter.

    Written ``LOW:HIGH`` (uniform; integers if both ends are integers), ``LOW:HIGH:log`` (log-uniform,
    ``LOW > 0``) or ``A,B,C`` (one of these values, each read as YAML: ``64,128,256`` or
    ``[128,128],[256,256]``). The model classes declare their default space in this form
    (``search_space``); ``simulacra tune --space name=SPEC`` replaces or adds one.

    Raises
    ------
    ConfigError
        (:meth:`parse`) A malformed spec, ``LOW ≥ HIGH``, a log range that is not positive.
    """

    name: str
    kind: str  # "int", "float" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    values: tuple[Any, ...] = ()

    @classmethod
    def parse(cls, name: str, spec: str) -> Dimension:
        text = str(spec).strip()
        pieces = text.split(":")
        if len(pieces) in (2, 3) and not any(c in text for c in "[],"):
            log = len(pieces) == 3
            if log and pieces[2].strip() != "log":
                raise ConfigError(f"`space` {name}={text}: the third part can only be 'log' (LOW:HIGH:log)")
            ends = [_number(p.strip()) for p in pieces[:2]]
            if any(e is None for e in ends):
                raise ConfigError(f"`space` {name}={text}: LOW and HIGH must be numbers, e.g. 1e-4:1e-2:log")
            low, high = ends
            if not low < high:
                raise ConfigError(f"`space` {name}={text}: LOW must be below HIGH")
            if log and low <= 0:
                raise ConfigError(f"`space` {name}={text}: a log range must be positive (LOW > 0)")
            kind = "int" if all(isinstance(e, int) for e in ends) else "float"
            return cls(name, kind, float(low), float(high), log)
        values = tuple(_literal(v.strip()) for v in _split_top(text) if v.strip())
        if len(values) < 2:
            raise ConfigError(
                f"`space` {name}={text}: give a range LOW:HIGH[:log] or two or more values A,B,…"
            )
        values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        if len(set(map(repr, values))) < len(values):
            raise ConfigError(f"`space` {name}={text}: a value is listed twice")
        return cls(name, "choice", values=values)

    def corners(self) -> list[Any]:
        """The values that must all be valid: both ends of a range, every value of a choice."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]

    def contains(self, value: Any) -> bool:
        """Whether ``value`` (e.g. the model's default) lies in this dimension."""
        if self.kind == "choice":
            return repr(tuple(value) if isinstance(value, list) else value) in map(repr, self.values)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low <= value <= self.high and (self.kind == "float" or float(value).is_integer())

    def domain(self) -> Any:
        """The Ray Tune domain (choices are passed as their index, which Optuna accepts for any value)."""
        from ray import tune

        if self.kind == "choice":
            return tune.choice(list(range(len(self.values))))
        if self.kind == "int":  # Ray's integer ranges exclude HIGH
            fn = tune.lograndint if self.log else tune.randint
            return fn(int(self.low), int(self.high) + 1)
        return (tune.loguniform if self.log else tune.uniform)(self.low, self.high)

    def encode(self, value: Any) -> Any:
        """A parameter value → what :meth:`domain` draws."""
        if self.kind == "choice":
            return [repr(v) for v in self.values].index(
                repr(tuple(value) if isinstance(value, list) else value)
            )
        return int(value) if self.kind == "int" else float(value)

    def decode(self, drawn: Any) -> Any:
        """What :meth:`domain` drew → the parameter value."""
        if self.kind == "choice":
            return self.values[int(drawn)]
        return int(drawn) if self.kind == "int" else float(drawn)

    def __str__(self) -> str:
        if self.kind == "choice":
            return ", ".join(map(str, self.values))
        fmt = "{:g}" if self.kind == "float" else "{:.0f}"
        return f"{fmt.format(self.low)} … {fmt.format(self.high)}{' (log)' if self.log else ''}"


def search_space(
    model: str, space: dict[str, str] | None = None, params: dict[str, Any] | None = None
) -> dict[str, Dimension]:
    """The searched dimensions: ``model``'s declared ``search_space`` with ``space``'s specs replacing or
    adding dimensions, less those fixed by ``params``. Every end of a range and every choice is checked
    against the model's parameter constraints before anything runs.

    Raises
    ------
    ConfigError
        Unknown model, an image/text model, a differentially private model (a search on the private
        rows would spend privacy that its ε does not count), a parameter the model does not take, a
        malformed spec, a value out of the parameter's range, or an empty space.
    """
    from simulacra.synthesizers import Synthesizer, make, model_class

    cls = model_class(model)
    if not issubclass(cls, Synthesizer):  # the trials are scored by the table detector and TSTR
        raise ConfigError(f"tune searches table synthesizers; {model} is an {cls.modality} model")
    params = dict(params or {})
    defaults = cls().get_params()
    if "epsilon" in defaults and params.get("dp", defaults.get("dp", True)):
        raise ConfigError(
            f"{model} is differentially private: a search scored on the private rows spends privacy its "
            "ε does not count; tune a non-private model, or choose ε-DP parameters by hand"
        )
    specs = {**getattr(cls, "search_space", {}), **(space or {})}
    for name in specs:
        if name not in defaults:
            raise ConfigError(
                f"`space` {name}: {model} has no parameter {name!r}; it takes {', '.join(defaults)}"
            )
        if name == "seed":
            raise ConfigError("`space` seed: the seed is not a hyper-parameter; every trial uses `seed`")
    dims = {n: Dimension.parse(n, s) for n, s in specs.items() if n not in params}
    if not dims:
        raise ConfigError(
            f"nothing to search for {model}: give dimensions with `space` name=LOW:HIGH (or A,B,C)"
        )
    for dim in dims.values():
        for value in dim.corners():
            try:
                make(model, **{**params, dim.name: value})
            except ConfigError as exc:
                raise ConfigError(f"`space` {dim.name}: {exc}") from None
    return dims


# ------------------------------------------------------------------ scoring
def utility_ratio(task: str, tstr: float, trtr: float) -> float:
    """The share of TRTR's skill above chance that TSTR keeps, clipped to [0, 1] (see the module
    docstring); ``nan`` when TSTR is ``nan``."""
    _, chance = UTILITY_METRIC[task]
    if not math.isfinite(tstr):
        return float("nan")
    return float(min(1.0, max(0.0, (tstr - chance) / (trtr - chance))))


def combine(objective: str, detection: float, utility: float) -> float:
    """The trial's score for ``objective`` (a missing part counts as 0)."""
    d = detection if math.isfinite(detection) else 0.0
    u = utility if math.isfinite(utility) else 0.0
    return {"combined": (d + u) / 2, "detection": d, "utility": u}[objective]


@dataclass
class Scorer:
    """Scores synthetic rows against the validation rows (see the module docstring).

    Parameters
    ----------
    fit_rows, valid_rows : DataFrame
        The fitting part (the encoding's reference) and the validation part of the training table.
    metadata : Metadata
    target : str
    objective : str
        One of :data:`OBJECTIVES`.
    seed : int
    """

    fit_rows: pd.DataFrame
    valid_rows: pd.DataFrame
    metadata: Metadata
    target: str
    objective: str = "combined"
    seed: int = 0
    trtr: float = field(init=False, default=float("nan"))
    task: str = field(init=False, default="")

    def __post_init__(self) -> None:
        from simulacra.evaluate.utility import Downstream

        self._downstream = Downstream(
            self.metadata, self.fit_rows, self.valid_rows, self.target, seed=self.seed
        )
        self.task = self._downstream.task
        metric, chance = UTILITY_METRIC[self.task]
        self.metric = metric
        self.trtr = float(self._downstream.score(self.fit_rows)[metric])
        if self.objective != "detection" and not self.trtr > chance + 0.01:
            raise DataError(
                f"{self.target!r} cannot be predicted from the other columns even by real rows "
                f"(TRTR {metric} {self.trtr:.3f} on the validation rows), so TSTR cannot rank the trials; "
                "tune with `objective` detection, or choose another `target`"
            )

    def score(self, synthetic: pd.DataFrame) -> dict[str, float]:
        """``{detection, detection_auc, tstr, trtr, utility, score}`` of ``synthetic``."""
        from simulacra.evaluate.fidelity import detection

        det = detection(self.valid_rows, synthetic, self.metadata, model=DETECTOR, seed=self.seed)
        tstr = float(self._downstream.score(synthetic).get(self.metric, float("nan")))
        utility = utility_ratio(self.task, tstr, self.trtr)
        return {
            "detection": float(det["score"]),
            "detection_auc": float(det["auc"]),
            "tstr": tstr,
            "trtr": self.trtr,
            "utility": utility,
            "score": combine(self.objective, float(det["score"]), utility),
        }


def fit_and_score(model: str, params: dict[str, Any], scorer: Scorer, seed: int) -> dict[str, float]:
    """Fit ``make(model, **params)`` on the scorer's fitting rows, sample as many rows (``seed``) and
    score them: :meth:`Scorer.score` plus ``fit_s`` (seconds)."""
    from simulacra.synthesizers import make

    synth = make(model, **params)
    if "verbose" in synth.get_params():
        synth.set_params(verbose=False)
    start = time.perf_counter()
    synth.fit(scorer.fit_rows, scorer.metadata)
    fit_s = time.perf_counter() - start
    synthetic = synth.sample(len(scorer.fit_rows), seed=seed)
    return {**scorer.score(synthetic), "fit_s": fit_s}


def _trial(
    config: dict[str, Any],
    *,
    model: str,
    fixed: dict[str, Any],
    dims: dict[str, Dimension],
    scorer: Scorer,
    seed: int,
    threads: int,
) -> None:
    """One Ray Tune trial: decode ``config``, fit, score, report (runs in a Ray worker)."""
    import torch
    from ray import tune
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    params = {**fixed, **{n: d.decode(config[n]) for n, d in dims.items()}}
    with threadpool_limits(threads):
        metrics = fit_and_score(model, params, scorer, seed)
    tune.report(metrics)


# ------------------------------------------------------------------ the search
@dataclass
class TuneResult:
    """What :func:`tune_model` found.

    Attributes
    ----------
    trials : DataFrame
        One row per trial, in the order they were proposed: ``trial`` (0 = the defaults), one column per
        searched parameter, ``detection``, ``detection_auc``, ``tstr``, ``trtr``, ``utility``, ``score``,
        ``fit_s`` (seconds) and ``error`` (the one-line error of a failed trial, else empty).
    best_params : dict
        Every parameter of the best trial's model (fixed and searched).
    best : dict
        The best trial's row.
    space : dict of Dimension
    info : dict
        The settings (model, target, task, objective, rows, seed, workers, seconds).
    test : dict, optional
        With ``refit`` and test rows: the refitted model's detection/TSTR/TRTR/utility/score on the
        test table.
    test_defaults : dict, optional
        The same for the model's defaults refitted alike (a copy of ``test`` when trial 0 won).
    model : BaseSynthesizer, optional
        With ``refit``: the best parameters fitted on the whole training table.
    """

    trials: pd.DataFrame
    best_params: dict[str, Any]
    best: dict[str, Any]
    space: dict[str, Dimension]
    info: dict[str, Any]
    test: dict[str, float] | None = None
    test_defaults: dict[str, float] | None = None
    model: Any = None


def check_settings(
    trials: Any, validation: Any, objective: Any, seed: Any, workers: Any
) -> tuple[int, float, str, int, int]:
    """The search's settings checked: ``trials`` in [1, 10,000], ``validation`` in [0.05, 0.5],
    ``objective`` one of :data:`OBJECTIVES`, ``seed`` ≥ 0, ``workers`` in [1, 1,024].

    Raises
    ------
    ConfigError
        A value out of range.
    """
    trials = check_value("tune", "`trials`", trials, Integer(ge=1, le=10_000))
    validation = check_value("tune", "`validation`", validation, Real(ge=0.05, le=0.5))
    if objective not in OBJECTIVES:
        raise ConfigError(f"`objective` {objective!r}: use one of {', '.join(OBJECTIVES)}")
    seed = check_value("tune", "`seed`", seed, Integer(ge=0, le=MAX_SEED))
    workers = check_value("tune", "`workers`", workers, Integer(ge=1, le=1024))
    return trials, float(validation), objective, seed, workers


def validation_split(
    train: pd.DataFrame, metadata: Metadata, target: str, validation: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fit_rows, valid_rows)``: a seeded split of ``train``, stratified by ``target`` for a
    classification target whose every class has 2+ rows (random otherwise).

    Raises
    ------
    DataError
        Fewer than 50 rows in either part.
    """
    from simulacra.evaluate.utility import task_of
    from simulacra.prepare.split import split

    stratify = task_of(metadata, target) == "classification" and (
        train[target].astype("string").fillna("<missing>").value_counts().min() >= 2
    )
    parts, _ = split(
        train,
        "stratified" if stratify else "random",
        fractions=(1 - validation, validation),
        column=target if stratify else None,
        seed=seed,
    )
    fit_rows, valid_rows = parts["train"], parts["test"]
    if min(len(fit_rows), len(valid_rows)) < 50:
        raise DataError(
            f"{len(train)} training rows leave {len(valid_rows)} for validation; tune needs 50+ in each "
            "part: give more rows or a larger `validation`"
        )
    return fit_rows.reset_index(drop=True), valid_rows.reset_index(drop=True)


def tune_model(
    train: pd.DataFrame,
    metadata: Metadata,
    target: str,
    model: str,
    *,
    trials: int = 20,
    space: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    objective: str = "combined",
    validation: float = 0.2,
    seed: int = 0,
    workers: int = 1,
    address: str | None = None,
    test: pd.DataFrame | None = None,
    refit: bool = True,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search ``model``'s hyper-parameters on ``train`` (see the module docstring).

    Parameters
    ----------
    train : DataFrame
        The real training rows; ``validation`` of them score the trials.
    metadata : Metadata
    target : str
        The column TSTR predicts.
    model : str
        A table synthesizer's registry name.
    trials : int
        Trials to run, the defaults' included.
    space : dict of str, optional
        ``{parameter: spec}`` replacing or adding to the model's ``search_space`` (:class:`Dimension`).
    params : dict, optional
        Parameters fixed in every trial (e.g. ``{"epochs": 50}``); a fixed parameter is not searched.
    objective : {"combined", "detection", "utility"}
    validation : float
        Share of ``train`` held out to score the trials, in [0.05, 0.5].
    seed : int
        Seed of the split, the sampler, every model and every score.
    workers : int
        Trials run at once, each with ``cpu_count // workers`` threads (at least one; one on a
        cluster).
    address : str, optional
        A Ray cluster (``ray://head:10001``, ``auto``); ``None`` starts a local instance.
    test : DataFrame, optional
        Real test rows: with ``refit``, the refitted model is scored on them.
    refit : bool
        Fit the best parameters on the whole of ``train`` (``TuneResult.model``).
    on_trial : callable, optional
        Called with each finished trial's row, in completion order.

    Returns
    -------
    TuneResult

    Raises
    ------
    ConfigError
        Bad settings or space (:func:`search_space`, :func:`check_settings`), Ray or Optuna missing.
    DataError
        Too few rows, an unpredictable target, or every trial failed (the first error is named).
    """
    trials, validation, objective, seed, workers = check_settings(
        trials, validation, objective, seed, workers
    )
    params = dict(params or {})
    dims = search_space(model, space, params)
    if target not in train.columns:
        raise ConfigError(
            f"`target` {target!r} is not a column; choose one of {', '.join(map(str, train.columns))}"
        )
    require_tune()
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from simulacra.scale.distributed import RaySession
    from simulacra.synthesizers import model_class

    clock = time.perf_counter()
    fit_rows, valid_rows = validation_split(train, metadata, target, validation, seed)
    scorer = Scorer(fit_rows, valid_rows, metadata, target, objective, seed)
    fixed = {**params, "seed": params.get("seed", model_class(model)().get_params()["seed"])}
    defaults = {**model_class(model)().get_params(), **params}
    start_point = {n: d.encode(defaults[n]) for n, d in dims.items() if d.contains(defaults[n])}
    threads = max(1, (os.cpu_count() or 1) // workers) if address is None else 1
    log = _trial_log(tune.Callback)(dims, on_trial)
    storage = tempfile.mkdtemp(prefix="simulacra-tune-")
    try:
        with RaySession(workers, address, cpus=workers * threads) as ray, _quiet_optuna():
            searcher = OptunaSearch(
                points_to_evaluate=[start_point] if len(start_point) == len(dims) else None,
                seed=seed,
            )
            trainable = tune.with_resources(
                tune.with_parameters(
                    _trial, model=model, fixed=fixed, dims=dims, scorer=scorer, seed=seed, threads=threads
                ),
                {"cpu": threads},
            )
            tuner = tune.Tuner(
                trainable,
                param_space={n: d.domain() for n, d in dims.items()},
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    metric="score",
                    mode="max",
                    num_samples=trials,
                    max_concurrent_trials=workers,
                ),
                run_config=tune.RunConfig(storage_path=storage, name="tune", verbose=0, callbacks=[log]),
            )
            with contextlib.redirect_stdout(io.StringIO()):  # Ray prints a banner whatever the verbosity
                tuner.fit()
            del ray
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    rows = sorted(log.rows, key=lambda r: r["trial"])
    ok = [r for r in rows if not r["error"] and math.isfinite(r["score"])]
    if not ok:
        first = rows[0]["error"] if rows else "no trial ran"
        raise DataError(f"every trial of the search failed; the first: {first}")
    best = dict(max(ok, key=lambda r: r["score"]))  # the values as decoded, not as a frame stores them
    table = pd.DataFrame(rows)
    best_params = {**defaults, **fixed, **{n: best[n] for n in dims}}
    best_params = {k: list(v) if isinstance(v, tuple) else v for k, v in best_params.items()}
    info = {
        "model": model,
        "target": target,
        "task": scorer.task,
        "objective": objective,
        "trials": trials,
        "fit rows": len(fit_rows),
        "validation rows": len(valid_rows),
        "seed": seed,
        "workers": workers,
        "threads per trial": threads,
        "fixed parameters": {k: v for k, v in params.items()},
        "search seconds": round(time.perf_counter() - clock, 1),
    }
    result = TuneResult(table, best_params, best, dims, info)
    if refit:
        _refit(result, train, metadata, target, test, objective, seed, {**defaults, **fixed})
    return result


_METRICS = ("detection", "detection_auc", "tstr", "trtr", "utility", "score")


def _trial_log(base: type) -> type:
    """A Ray Tune callback class (``base`` is ``ray.tune.Callback``, imported late) that keeps every
    trial's row in the driver, numbered in the order the searcher proposed them, and passes each finished one
    to ``on_trial``. Tune pickles its callbacks with the experiment's state, so ``on_trial`` (a progress
    bar's closure) is left out of the pickled copy."""

    class TrialLog(base):
        def __init__(self, dims: dict[str, Dimension], on_trial: Callable[[dict[str, Any]], None] | None):
            self.dims, self.on_trial = dims, on_trial
            self.rows: list[dict[str, Any]] = []

        def __getstate__(self) -> dict[str, Any]:
            return {**self.__dict__, "on_trial": None}

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._record(trials.index(trial), trial, trial.last_result or {}, "")

        def on_trial_error(self, iteration, trials, trial, **info):
            self._record(trials.index(trial), trial, {}, _error_line(trial.get_pickled_error()))

        def _record(self, number: int, trial: Any, result: dict[str, Any], error: str) -> None:
            row = {"trial": number, **{n: d.decode(trial.config[n]) for n, d in self.dims.items()}}
            row.update({k: result.get(k, float("nan")) for k in (*_METRICS, "fit_s")})
            row["error"] = error
            self.rows.append(row)
            if self.on_trial is not None:
                self.on_trial(dict(row))

    return TrialLog


def _refit(result: TuneResult, train, metadata, target, test, objective, seed, defaults) -> None:
    """Fit the best parameters on the whole training table; with ``test``, score that model and, unless
    the defaults won, the ``defaults`` refitted the same way (``result.test`` / ``result.test_defaults``),
    so the report compares the two on rows the search never saw."""
    from simulacra.synthesizers import make

    def fitted(params: dict[str, Any]) -> Any:
        quiet = {"verbose": False} if "verbose" in params else {}
        return make(result.info["model"], **{**params, **quiet}).fit(train, metadata)

    clock = time.perf_counter()
    result.model = fitted(result.best_params)
    result.info["refit seconds"] = round(time.perf_counter() - clock, 1)
    if test is None or target not in test.columns:
        return
    scorer = Scorer(
        train.reset_index(drop=True), test.reset_index(drop=True), metadata, target, objective, seed
    )
    result.test = scorer.score(result.model.sample(len(train), seed=seed))
    if int(result.best["trial"]) == 0:
        result.test_defaults = dict(result.test)
    else:
        result.test_defaults = scorer.score(fitted(defaults).sample(len(train), seed=seed))


def _error_line(error: BaseException | None) -> str:
    """A failed trial's error as one line: the simulacra error a Ray task raised, not Ray's wrapper."""
    if error is None:
        return "failed"
    cause = error.as_instanceof_cause() if hasattr(error, "as_instanceof_cause") else error
    cause = getattr(cause, "cause", None) or cause
    text = " ".join(str(cause).split())
    return (text.splitlines()[-1] if text else type(cause).__name__)[:300]


def require_tune() -> None:
    """Ray Tune and Optuna are importable.

    Raises
    ------
    ConfigError
        Either is missing (the message names the extra).
    """
    try:
        import optuna  # noqa: F401
        import ray.tune  # noqa: F401
    except ImportError:
        raise ConfigError(
            "tune runs Ray Tune trials proposed by Optuna, and they are not installed; "
            "pip install 'simulacra[ray]'"
        ) from None


class _quiet_optuna:
    """Optuna's INFO lines ("A new study created…") off for the search, its verbosity restored after."""

    def __enter__(self) -> None:
        import optuna

        self._level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(self._level)


# ------------------------------------------------------------------ output
def report_markdown(result: TuneResult) -> str:
    """``tune.md``: the settings, the space, the best parameters, the test scores and every trial."""
    info, best = result.info, result.best
    names = list(result.space)
    lines = [
        f"# simulacra tune: {info['model']} → {info['target']}",
        "",
        f"Objective **{info['objective']}** on {info['validation rows']:,} validation rows "
        f"(models fitted on {info['fit rows']:,}); {len(result.trials)} trials, "
        f"{info['search seconds']:.0f} s with {info['workers']} at a time.",
        "detection = 1 − (2·max(AUC, 0.5) − 1) of an XGBoost C2ST; utility = "
        + (
            "(TSTR − 0.5) / (TRTR − 0.5) of ROC-AUC"
            if info["task"] == "classification"
            else "TSTR / TRTR of R²"
        )
        + ", clipped to [0, 1]; combined = their mean.",
        "",
        "## Search space",
        "",
        "| parameter | values |",
        "|---|---|",
        *[f"| {n} | {d} |" for n, d in result.space.items()],
        "",
        "## Best trial",
        "",
        f"Trial {int(best['trial'])}: score {best['score']:.4f} (detection {best['detection']:.3f}, "
        f"TSTR {best['tstr']:.3f} vs TRTR {best['trtr']:.3f}, utility {best['utility']:.3f}).",
    ]
    defaults = result.trials[result.trials["trial"] == 0]
    if len(defaults) and defaults["error"].iloc[0] == "":
        gain = best["score"] - float(defaults["score"].iloc[0])
        lines.append(
            f"Trial 0 (the defaults) scored {float(defaults['score'].iloc[0]):.4f}: a gain of {gain:+.4f}."
        )
    lines += ["", "```", fit_command(result), "```", ""]
    if result.test is not None:
        lines += [
            "## Refitted on all training rows, scored once on the test table",
            "",
            "| model | detection | TSTR | TRTR | utility | score |",
            "|---|---|---|---|---|---|",
        ]
        for label, t in (("best trial", result.test), ("defaults", result.test_defaults)):
            if t is not None:
                lines.append(
                    f"| {label} | {t['detection']:.3f} | {t['tstr']:.3f} | {t['trtr']:.3f} | "
                    f"{t['utility']:.3f} | {t['score']:.4f} |"
                )
        lines.append("")
    head = ["trial", *names, "detection", "TSTR", "utility", "score", "fit s", "error"]
    lines += ["## Trials (best first)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    shown = result.trials.sort_values("score", ascending=False, na_position="last")
    for _, row in shown.iterrows():
        cells = [str(int(row["trial"]))]
        cells += [_cell(row[n]) for n in names]
        cells += [_cell(row[k], "{:.3f}") for k in ("detection", "tstr", "utility")]
        cells += [_cell(row["score"], "{:.4f}"), _cell(row["fit_s"], "{:.1f}"), str(row["error"] or "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any, fmt: str = "{:.4g}") -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else fmt.format(value)
    return str(value)


def fit_command(result: TuneResult) -> str:
    """The ``simulacra fit`` command line that fits the best parameters (searched and fixed)."""
    from simulacra.synthesizers import model_class

    defaults = model_class(result.info["model"])().get_params()
    changed = {
        k: v
        for k, v in result.best_params.items()
        if k != "verbose"
        and (k in result.space or k in result.info["fixed parameters"])
        and v != defaults.get(k)
    }
    args = " ".join(f"--param {k}={_yaml(v)}" for k, v in changed.items())
    return f"simulacra fit SOURCE --model {result.info['model']} {args} -o MODEL_DIR".replace("  ", " ")


def _yaml(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def to_json(result: TuneResult) -> dict[str, Any]:
    """``tune.json``: settings, space, best parameters, best trial, test scores and every trial."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, np.generic):
            return clean(v.item())
        if isinstance(v, tuple):
            return list(v)
        return v

    return {
        "info": result.info,
        "space": {n: str(d) for n, d in result.space.items()},
        "best_params": result.best_params,
        "best_trial": {k: clean(v) for k, v in result.best.items()},
        "test": result.test,
        "test_defaults": result.test_defaults,
        "trials": [{k: clean(v) for k, v in row.items()} for row in result.trials.to_dict("records")],
        "fit_command": fit_command(result),
    }
