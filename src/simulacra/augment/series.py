"""Time-series augmentation: jittering, scaling, magnitude and time warping, window slicing and warping,
and permutation of segments, seeded, each step with a probability ``p``.

References
----------
* T. T. Um, F. M. J. Pfister, D. Pichler et al., "Data augmentation of wearable sensor data for
  Parkinson's disease monitoring using convolutional neural networks", ICMI 2017 (jittering, scaling,
  magnitude warping, time warping, permutation).
* A. Le Guennec, S. Malinowski, R. Tavenard, "Data augmentation for time series classification using
  convolutional neural networks", ECML/PKDD workshop AALTD 2016 (window slicing, window warping).
* B. K. Iwana, S. Uchida, "An empirical survey of data augmentation for time series classification
  with neural networks", PLOS ONE 2021 (the defaults below are this survey's).

A pipeline is a list of steps applied in order to every sequence (every keyed sequence; one long series
as a whole, or cut into ``window``-row pieces first); from YAML::

    window: 24          # optional, one long series only: augment consecutive 24-row windows
    steps:
      - {op: jitter, sigma: 0.03}
      - {op: magnitude_warp, sigma: 0.2, knots: 4, p: 0.5}
      - {op: time_warp, sigma: 0.2, knots: 4}

Operations (:data:`CONSTRAINTS`; each applies to a sequence with probability ``p``, default 1). The
value ops act on each number column's z-scores inside the sequence, ``z = (x − mean) / sd`` (the papers
work on z-normalised series), and map back; the time ops move every value column along the time axis
together:

* ``jitter`` [sigma 0.03] — ``z + ε``, ``ε ~ N(0, sigma²)`` per value;
* ``scaling`` [sigma 0.1] — ``z · s``, ``s ~ N(1, sigma²)`` per column;
* ``magnitude_warp`` [sigma 0.2, knots 4] — ``z · w(t)``, ``w`` a cubic spline through ``knots + 2``
  evenly spaced points drawn from ``N(1, sigma²)``, per column;
* ``time_warp`` [sigma 0.2, knots 4] — the time axis runs at a smooth random speed (a spline as in
  magnitude warping, clipped at 0.1): step ``t`` reads the original at the warped time, rescaled to the
  same span;
* ``window_slice`` [ratio 0.9] — a random ``ratio`` share of the sequence, stretched to its full length;
* ``window_warp`` [ratio 0.1, scales [0.5, 2.0]] — a random ``ratio`` share of the sequence stretched
  to one of the two ``scales`` times its length, the whole then resampled to its length;
* ``permutation`` [segments 5] — the sequence cut at random places into 2 … ``segments`` pieces, put
  back in a random order.

Reading a sequence at a fractional time interpolates a number linearly between its neighbours (missing
if either is) and takes the nearer row's value for any other column. A number column that is whole
numbers stays whole (rounded), and one with no negative value stays non-negative (clipped at 0). The
sequence index, key and context columns are kept as they were: augmented values keep their times.

Where this differs from the papers: Iwana & Uchida warp each channel's time axis on its own; here one
warp moves all columns, so values measured together (a day's open, high, low and close) stay together.
No maintained library fits: ``tsaug`` (the usual choice) has had no release since 2020.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline

from simulacra.augment.steps import check_steps, read_steps
from simulacra.errors import ConfigError
from simulacra.io.series import SeriesSet
from simulacra.validation import Integer, Pair, Param, Probability, Real

_P = {"p": Probability()}
_SIGMA = Real(gt=0, le=10)
#: op name → the constraints of its parameters, checked when the pipeline is built
CONSTRAINTS: dict[str, dict[str, Param]] = {
    "jitter": {**_P, "sigma": _SIGMA},
    "scaling": {**_P, "sigma": _SIGMA},
    "magnitude_warp": {**_P, "sigma": _SIGMA, "knots": Integer(ge=1, le=100)},
    "time_warp": {**_P, "sigma": _SIGMA, "knots": Integer(ge=1, le=100)},
    "window_slice": {**_P, "ratio": Real(gt=0, lt=1)},
    "window_warp": {**_P, "ratio": Real(gt=0, lt=1), "scales": Pair(ge=0.01, le=100)},
    "permutation": {**_P, "segments": Integer(ge=2, le=100)},
}
#: each op's defaults (Iwana & Uchida 2021)
DEFAULTS: dict[str, dict[str, Any]] = {
    "jitter": {"sigma": 0.03},
    "scaling": {"sigma": 0.1},
    "magnitude_warp": {"sigma": 0.2, "knots": 4},
    "time_warp": {"sigma": 0.2, "knots": 4},
    "window_slice": {"ratio": 0.9},
    "window_warp": {"ratio": 0.1, "scales": [0.5, 2.0]},
    "permutation": {"segments": 5},
}
#: the ops that move values along the time axis (the others change values in place)
TIME_OPS = ("time_warp", "window_slice", "window_warp", "permutation")


class SeriesAugmenter:
    """A pipeline of series augmentation steps (see the module docstring).

    Parameters
    ----------
    steps : list of dict
        ``{op: NAME, p: SHARE, ...parameters}``, applied in order.
    window : int or None
        One long series: cut it into consecutive windows of this many rows (the rest dropped) and
        augment each; ``None``: the whole series is one sequence.

    Raises
    ------
    ConfigError
        An unknown op, a parameter the op does not take, or a value out of range.
    """

    def __init__(self, steps: list[dict[str, Any]], window: int | None = None) -> None:
        self.steps = check_steps(
            steps, CONSTRAINTS, "{op: jitter, sigma: 0.03}", lambda op: {"p": 1.0, **DEFAULTS[op]}
        )
        for step in self.steps:
            if "scales" in step:
                step["scales"] = [float(s) for s in step["scales"]]
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 2):
            raise ConfigError(f"window: {window!r} is not a whole number of rows ≥ 2; give e.g. window: 24")
        self.window = window

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SeriesAugmenter:
        """Read ``steps: [...]`` and the optional ``window:`` from a YAML file.

        Raises
        ------
        ConfigError
            Missing or unreadable file, no steps, or an unknown top-level key.
        """
        steps, doc = read_steps(path, ("steps", "window"))
        return cls(steps, window=doc.get("window"))


# ----------------------------------------------------------------------------------------- the ops
def _spline(n: int, knots: int, sigma: float, columns: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, columns)``: a cubic spline through ``knots + 2`` evenly spaced draws of ``N(1, sigma²)``."""
    at = np.linspace(0, n - 1, knots + 2)
    values = rng.normal(1.0, sigma, (knots + 2, columns))
    return CubicSpline(at, values, axis=0)(np.arange(n))


def _values_op(op: dict[str, Any], z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``z`` ``(T, d)`` z-scores after a value op."""
    name, sigma = op["op"], float(op.get("sigma", 0.0))
    if name == "jitter":
        return z + rng.normal(0.0, sigma, z.shape)
    if name == "scaling":
        return z * rng.normal(1.0, sigma, (1, z.shape[1]))
    return z * _spline(len(z), int(op["knots"]), sigma, z.shape[1], rng)  # magnitude_warp


def _stretch(n_out: int, start: float, stop: float) -> np.ndarray:
    """``n_out`` evenly spaced times from ``start`` to ``stop``."""
    return np.linspace(start, stop, n_out) if n_out > 1 else np.array([start])


def _time_op(op: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` float: the original time each of the ``n`` output steps reads, in ``[0, n − 1]``."""
    name = op["op"]
    if name == "time_warp":
        speed = np.clip(_spline(n, int(op["knots"]), float(op["sigma"]), 1, rng)[:, 0], 0.1, None)
        clock = np.concatenate([[0.0], np.cumsum(speed[:-1])])
        return clock * (n - 1) / max(clock[-1], 1e-12)
    if name == "window_slice":
        width = max(1, int(np.ceil(float(op["ratio"]) * n)))
        start = int(rng.integers(0, n - width + 1))
        return _stretch(n, start, start + width - 1)
    if name == "window_warp":
        width = max(1, int(np.ceil(float(op["ratio"]) * n)))
        start = int(rng.integers(0, n - width + 1))
        scale = float(rng.choice(op["scales"]))
        inner = _stretch(max(1, round(width * scale)), start, start + width - 1)
        times = np.concatenate([np.arange(start), inner, np.arange(start + width, n)])
        return np.interp(_stretch(n, 0, len(times) - 1), np.arange(len(times)), times)
    # permutation: 2 … segments pieces between random cut points, in a random order
    pieces = int(rng.integers(2, int(op["segments"]) + 1)) if n > 1 else 1
    cuts = np.sort(rng.choice(np.arange(1, n), min(pieces, n) - 1, replace=False)) if n > 1 else []
    parts = np.split(np.arange(n), cuts)
    return np.concatenate([parts[i] for i in rng.permutation(len(parts))]).astype(np.float64)


def _read_at(x: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``x`` ``(T, d)`` numbers read at fractional ``times``: linear between neighbours (NaN if either
    is missing, unless the time is a row's own)."""
    lo = np.clip(np.floor(times).astype(np.int64), 0, len(x) - 1)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (times - lo)[:, None]
    out = x[lo] * (1 - w) + x[hi] * w
    exact = (w < 1e-9)[:, 0]
    out[exact] = x[lo[exact]]
    return out


def _augment_one(
    numbers: np.ndarray, others: np.ndarray, steps: list[dict[str, Any]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One sequence's number columns ``(T, d)`` and other value columns ``(T, e)`` after the steps."""
    mean = np.nanmean(numbers, axis=0) if numbers.size else np.zeros(numbers.shape[1])
    sd = np.nanstd(numbers, axis=0) if numbers.size else np.ones(numbers.shape[1])
    mean, sd = np.nan_to_num(mean), np.where(np.nan_to_num(sd) > 0, np.nan_to_num(sd), 1.0)
    z = (numbers - mean) / sd
    for step in steps:
        if rng.random() >= float(step["p"]):
            continue
        if step["op"] in TIME_OPS:
            times = _time_op(step, len(z), rng)
            z = _read_at(z, times)
            others = others[np.clip(np.rint(times).astype(np.int64), 0, len(others) - 1)]
        else:
            z = _values_op(step, z, rng)
    return z * sd + mean, others


# ----------------------------------------------------------------------------------------- the data
def _pieces(series: SeriesSet, window: int | None) -> tuple[list[pd.DataFrame], list[Any], str | None]:
    """The sequences to augment, their key values, and the key column of the output (``None``: one
    series out)."""
    if series.keyed:
        seqs = series.sequences()
        return seqs, [s[series.sequence_key].iloc[0] for s in seqs], series.sequence_key
    frame = series.frame.reset_index(drop=True)
    if window is None:
        return [frame], [None], _free("copy", frame)
    if window > len(frame):
        raise ConfigError(
            f"window: {window} is longer than the series ({len(frame)} rows); give a shorter window"
        )
    count = len(frame) // window
    pieces = [frame.iloc[i * window : (i + 1) * window] for i in range(count)]
    return pieces, list(range(count)), _free("window", frame)


def _free(name: str, frame: pd.DataFrame) -> str:
    """``name``, or ``name_`` (…) when the data has a column of that name already."""
    while name in frame.columns:
        name += "_"
    return name


def augment_series(
    series: SeriesSet, augmenter: SeriesAugmenter, *, copies: int = 1, seed: int = 0
) -> SeriesSet:
    """``copies`` augmented versions of every sequence of ``series`` (copy-major), seeded.

    Keyed sequences keep their context and get the key ``"{key}-aug{copy}"``; one long series comes back
    as one series (``copies`` 1), as ``copies`` series keyed by a ``copy`` column, or, with the
    augmenter's ``window``, as windows keyed by a ``window`` column (numbered from 1 across copies).

    Parameters
    ----------
    series : SeriesSet
        The real data; its number columns (not the index, key or context) are augmented.
    augmenter : SeriesAugmenter
        The steps.
    copies : int
        Augmented copies of every sequence, ≥ 1.
    seed : int
        The same seed gives the same output.

    Returns
    -------
    SeriesSet
        The augmented rows with the columns and dtypes of ``series``.

    Raises
    ------
    ConfigError
        ``window`` with keyed sequences, or longer than the series.
    """
    if augmenter.window is not None and series.keyed:
        raise ConfigError("window: cuts one long series into pieces, and this series is keyed; drop window:")
    numbers = [
        c
        for c in series.value_columns
        if pd.api.types.is_numeric_dtype(series.frame[c]) and not pd.api.types.is_bool_dtype(series.frame[c])
    ]
    others = [c for c in series.value_columns if c not in numbers]
    whole = {c: series.frame[c].dropna() for c in numbers}
    integral = {
        c: bool(len(s)) and bool(np.all(np.mod(s.to_numpy(np.float64), 1) == 0)) for c, s in whole.items()
    }
    non_negative = {c: bool(len(s)) and bool((s >= 0).all()) for c, s in whole.items()}
    pieces, keys, key_column = _pieces(series, augmenter.window)
    rng = np.random.default_rng(seed)
    out = []
    for copy in range(int(copies)):
        for i, (piece, key) in enumerate(zip(pieces, keys, strict=True)):
            x, o = _augment_one(
                piece[numbers].to_numpy(np.float64), piece[others].to_numpy(object), augmenter.steps, rng
            )
            new = piece.copy()
            for j, c in enumerate(numbers):
                v = np.where(non_negative[c], np.maximum(x[:, j], 0.0), x[:, j])
                v = np.round(v) if integral[c] else v
                new[c] = v.astype(series.frame[c].dtype) if integral[c] and not np.isnan(v).any() else v
            for j, c in enumerate(others):
                new[c] = o[:, j]
            if series.keyed:
                new[key_column] = f"{key}-aug{copy + 1}"
            elif augmenter.window is not None:
                new.insert(0, key_column, copy * len(pieces) + i + 1)
            elif copies > 1:
                new.insert(0, key_column, copy + 1)
            out.append(new)
    frame = pd.concat(out, ignore_index=True)
    if not series.keyed and augmenter.window is None and copies == 1:
        key_column = None
    return SeriesSet(frame, series.sequence_index, key_column, tuple(series.context_columns))
