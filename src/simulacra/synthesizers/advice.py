"""Which registered table model suits a table, and why: the line ``inspect`` and ``fit`` print.

The rule follows what ``simulacra bench`` measured on the bundled tables (the benchmarks page and
``benchmarks/results``): the mixture, the default, is the strongest model at its cost on tables whose
columns are mostly categorical or discrete (Adult, Bank Marketing), and fits in about a minute on
2 cores. On tables where most columns are *continua* — many distinct values and no value holding a
large share of the rows (California Housing) — its Gaussian leaves keep the correlations inside
each component and it stays the fast choice, but the diffusion model reaches a higher XGBoost C2ST
at several minutes of fit; that is what the advice says, with the columns that make the table
continuous.

A continuum column is decided exactly as :class:`~simulacra.synthesizers.mixture.Mixture` decides
it gets a Gaussian leaf (more than ``bins`` distinct values, none holding
:data:`~simulacra.synthesizers.mixture.SPIKE_SHARE` of the rows), so the advice and the model agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from simulacra.metadata import Metadata
from simulacra.synthesizers.base import DEFAULT_MODEL
from simulacra.synthesizers.mixture import SPIKE_SHARE, Mixture

#: a table is continuous when at least this share of its columns (and at least ``MIN_CONTINUOUS``) are continua
CONTINUOUS_SHARE = 0.5
MIN_CONTINUOUS = 3
#: the model that measured best on continuous tables (``simulacra bench --data housing``)
BEST_CONTINUOUS = "diffusion"


@dataclass(frozen=True)
class Advice:
    """The advice for one table.

    Attributes
    ----------
    model : str
        The registry name to fit first (the default unless the table calls for another).
    best : str
        The registry name expected to give the highest fidelity, at a higher fit cost; equal to
        ``model`` when the default is also the best.
    continuous : tuple of str
        The continuum columns (many distinct values, no large point mass).
    reason : str
        One sentence saying why.
    """

    model: str
    best: str
    continuous: tuple[str, ...]
    reason: str

    def line(self) -> str:
        """The advice as one line for the terminal."""
        if self.best == self.model:
            return f"suggested model: {self.model} — {self.reason}"
        return (
            f"suggested model: {self.model} (fast), or {self.best} for the highest fidelity — {self.reason}"
        )


def continuum_columns(table: pd.DataFrame, metadata: Metadata, bins: int | None = None) -> list[str]:
    """The numerical and datetime columns of ``table`` that the mixture models with Gaussian leaves.

    Parameters
    ----------
    table : pandas.DataFrame
        ``(N, C)`` rows, any dtypes; missing values are left out of the counts.
    metadata : Metadata
        The table's metadata; only ``numerical`` and ``datetime`` columns can be continua.
    bins : int, optional
        The mixture's ``bins`` (its default when ``None``).

    Returns
    -------
    list of str
        In table order: columns with more than ``bins`` distinct values, none of them holding
        :data:`~simulacra.synthesizers.mixture.SPIKE_SHARE` of the non-missing rows.
    """
    bins = int(Mixture().get_params()["bins"] if bins is None else bins)
    names = set(metadata.names_of("numerical", "datetime"))
    found = []
    for name in table.columns:
        if name not in names:
            continue
        counts = table[name].value_counts(dropna=True)
        if len(counts) > bins and counts.iloc[0] < SPIKE_SHARE * counts.sum():
            found.append(str(name))
    return found


def advise(table: pd.DataFrame, metadata: Metadata) -> Advice:
    """Say which table model suits ``table`` and why (see the module docstring for the rule).

    Parameters
    ----------
    table : pandas.DataFrame
        ``(N, C)`` training rows.
    metadata : Metadata
        Their metadata (``inspect``'s detection, or the overrides given).

    Returns
    -------
    Advice
        ``model`` is always the default (it fits every table in about a minute); ``best`` is
        :data:`BEST_CONTINUOUS` when at least :data:`CONTINUOUS_SHARE` of the columns, and
        :data:`MIN_CONTINUOUS`, are continua.
    """
    continuous = continuum_columns(table, metadata)
    share = len(continuous) / max(table.shape[1], 1)
    shown = ", ".join(continuous[:5]) + ("…" if len(continuous) > 5 else "")
    if len(continuous) >= MIN_CONTINUOUS and share >= CONTINUOUS_SHARE:
        reason = (
            f"{len(continuous)} of {table.shape[1]} columns are continuous ({shown}); the mixture's "
            f"Gaussian leaves model them in about a minute, {BEST_CONTINUOUS} fits such tables more "
            "faithfully in several minutes (simulacra bench --models mixture,diffusion compares them on it)"
        )
        return Advice(DEFAULT_MODEL, BEST_CONTINUOUS, tuple(continuous), reason)
    what = f"{len(continuous)} continuous ({shown})" if continuous else "no continuous column"
    reason = (
        f"{table.shape[1] - len(continuous)} of {table.shape[1]} columns are categorical or discrete, "
        f"{what}: the mixture is the strongest model at its cost on such tables"
    )
    return Advice(DEFAULT_MODEL, DEFAULT_MODEL, tuple(continuous), reason)


__all__ = ["Advice", "advise", "continuum_columns"]
