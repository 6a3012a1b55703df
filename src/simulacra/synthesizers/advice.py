"""Which registered table model suits a table, and why: the line ``inspect`` and ``fit`` print.

The rule follows what ``simulacra bench`` measured on the bundled tables (the benchmarks page and
``benchmarks/results``). The mixture, the default, fits in about a minute on 2 cores. It is the
strongest model measured on tables whose columns are mostly categorical or discrete (Adult, Bank
Marketing). It is also the strongest measured on a table where most columns are *continua*, that is,
many distinct values and no value holding a large share of the rows. On California Housing its
Gaussian leaves scored a higher XGBoost C2ST than the diffusion model, in a small fraction of its fit
time. Other continuous tables may differ: the public results that motivated issue 29 put diffusion near the
state of the art on three of them. So for a continuous table the advice names ``diffusion`` as the
alternative to compare on the user's own table with ``simulacra bench``, and says which columns make
the table continuous.

A continuum column is decided by :func:`~simulacra.synthesizers.mixture.is_continuum`, the rule that
gives a column a Gaussian leaf in :class:`~simulacra.synthesizers.mixture.Mixture`, so the advice and
the model agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from simulacra.metadata import Metadata
from simulacra.synthesizers.base import DEFAULT_MODEL
from simulacra.synthesizers.mixture import Mixture, is_continuum

#: a table is continuous when at least this share of its columns (and at least ``MIN_CONTINUOUS``) are continua
CONTINUOUS_SHARE = 0.5
MIN_CONTINUOUS = 3
#: the model to compare with the default on a continuous table (``simulacra bench --models mixture,diffusion``)
ALTERNATIVE_CONTINUOUS = "diffusion"


@dataclass(frozen=True)
class Advice:
    """The advice for one table.

    Attributes
    ----------
    model : str
        The registry name that suits the table best by what was measured.
    alternative : str or None
        A model worth comparing with ``model`` on this table (``simulacra bench``), or ``None``.
    continuous : tuple of str
        The continuum columns (many distinct values, no large point mass).
    reason : str
        One sentence saying why.
    """

    model: str
    alternative: str | None
    continuous: tuple[str, ...]
    reason: str

    def line(self) -> str:
        """The advice as one line for the terminal."""
        line = f"suggested model: {self.model} — {self.reason}"
        if self.alternative:
            line += f"; compare {self.alternative} on it with simulacra bench --models {self.model},{self.alternative}"
        return line


def continuum_columns(table: pd.DataFrame, metadata: Metadata, bins: int | None = None) -> list[str]:
    """The numerical and datetime columns of ``table`` that the mixture models as continua: with
    Gaussian leaves, or binned together with another when their joint is curved (a map's longitude and
    latitude).

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
        counts = table[name].value_counts(dropna=True).to_numpy()
        if is_continuum(counts, int(counts.sum()), bins):
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
        ``model`` is the default, the best measured on every bundled table; ``alternative`` is
        :data:`ALTERNATIVE_CONTINUOUS` when at least :data:`CONTINUOUS_SHARE` of the columns, and
        :data:`MIN_CONTINUOUS`, are continua.
    """
    continuous = continuum_columns(table, metadata)
    share = len(continuous) / max(table.shape[1], 1)
    shown = ", ".join(continuous[:5]) + ("…" if len(continuous) > 5 else "")
    if len(continuous) >= MIN_CONTINUOUS and share >= CONTINUOUS_SHARE:
        reason = (
            f"{len(continuous)} of {table.shape[1]} columns are continuous ({shown}); the mixture's "
            "Gaussian leaves keep their correlations within each component, and it fits in about a minute"
        )
        return Advice(DEFAULT_MODEL, ALTERNATIVE_CONTINUOUS, tuple(continuous), reason)
    what = f"{len(continuous)} continuous ({shown})" if continuous else "no continuous column"
    reason = (
        f"{table.shape[1] - len(continuous)} of {table.shape[1]} columns are categorical or discrete, "
        f"{what}: the mixture is the strongest model at its cost on such tables"
    )
    return Advice(DEFAULT_MODEL, None, tuple(continuous), reason)


__all__ = ["Advice", "advise", "continuum_columns"]
