"""Sampling in fixed blocks: any number of rows with bounded memory, the same rows whatever the chunking.

A request for ``rows`` rows is cut into consecutive **sampling blocks** of :data:`BLOCK_ROWS` rows (the
last one shorter). Block ``b`` is drawn by one call of the model's ``sample`` (or ``sample_counts``)
with the seed :func:`block_seed` ``(seed, b)``; block 0 uses ``seed`` itself, so a request of at most
:data:`BLOCK_ROWS` rows is exactly ``model.sample(rows, seed=seed)``. Because the blocks and their seeds
depend only on ``(rows, seed)`` and the sampling options, and never on how the rows are written:

* a stream written in chunks of any size (:func:`iter_chunks`) holds the same rows in the same order;
* a part ``[start, stop)`` of the rows (:func:`iter_rows`) can be drawn on its own, by another process
  or another machine (:mod:`simulacra.scale.distributed`), and the parts put together are the same rows.

Exact class counts (``column``/``counts``) are spread over the blocks in proportion: block ``b``
covering the fraction ``[s, e)`` of the rows gets ``⌊k·e⌋ − ⌊k·s⌋`` rows of a class with ``k`` rows,
so every class gets exactly its count, and a block's rows are shuffled across classes as
``sample_counts`` shuffles them.

The memory held at once is one block plus one chunk: ``(BLOCK_ROWS + chunk_rows) ×`` the model's bytes
per generated row (about 2 KiB for Adult's mixture model at its peak: one-hot sampling matrices).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulacra.validation import MAX_SEED, Integer, check_value

#: Rows per sampling block. Part of what "the same seed gives the same rows" means for requests larger
#: than one block: changing it changes those rows, so it is a constant, not an option.
BLOCK_ROWS = 100_000

#: Default rows per written chunk (a Parquet row group, one CSV append, one SQL insert batch).
CHUNK_ROWS = 100_000


def block_seed(seed: int, block: int) -> int:
    """The seed of sampling block ``block`` of a request with seed ``seed``: ``seed`` for block 0, else
    32 bits of ``numpy.random.SeedSequence([seed, block])`` (independent streams for every block, within
    the one seed range :data:`~simulacra.validation.MAX_SEED` that every seed respects)."""
    if block == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(block)]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class BlockPlan:
    """Where each sampling block of a request starts, and (with class counts) what it holds.

    Attributes
    ----------
    rows : int
        Total rows.
    starts : ndarray of int64, shape (n_blocks + 1,)
        Row offset of every block, then ``rows``.
    counts : list of dict or None
        Per block, class → rows (``None`` without class counts).
    """

    rows: int
    starts: np.ndarray
    counts: list[dict[Any, int]] | None = field(default=None)

    @classmethod
    def make(cls, rows: int, counts: dict[Any, int] | None = None) -> BlockPlan:
        """The plan of ``rows`` rows (``sum(counts.values())`` when class ``counts`` are given)."""
        rows = int(sum(counts.values())) if counts is not None else int(rows)
        n_blocks = max(1, -(-rows // BLOCK_ROWS))
        edges = np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * BLOCK_ROWS, rows)
        if counts is None:
            return cls(rows, edges)
        # class c gets floor(k·e/rows) − floor(k·s/rows) rows of block [s, e): exact totals per class
        per_block = []
        for b in range(n_blocks):
            s, e = int(edges[b]), int(edges[b + 1])
            per_block.append(
                {c: (int(k) * e) // max(rows, 1) - (int(k) * s) // max(rows, 1) for c, k in counts.items()}
            )
        sizes = np.array([sum(d.values()) for d in per_block], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(rows, starts, per_block)

    @property
    def n_blocks(self) -> int:
        """Number of sampling blocks (at least one, possibly empty)."""
        return len(self.starts) - 1

    def blocks_between(self, start: int, stop: int) -> range:
        """The blocks that hold any of the rows ``[start, stop)``."""
        if stop <= start:
            return range(0)
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        last = int(np.searchsorted(self.starts, stop, side="left"))
        return range(max(first, 0), min(last, self.n_blocks))


def _block_sampler(
    model: Any,
    plan: BlockPlan,
    *,
    seed: int,
    conditions: dict[str, Any] | None,
    column: str | None,
    temperature: float,
) -> Callable[[int], pd.DataFrame]:
    def draw(b: int) -> pd.DataFrame:
        s = block_seed(seed, b)
        if plan.counts is not None:
            return model.sample_counts(
                column, plan.counts[b], conditions=conditions, seed=s, temperature=temperature
            )
        size = int(plan.starts[b + 1] - plan.starts[b])
        return model.sample(size, conditions=conditions, seed=s, temperature=temperature)

    return draw


def iter_rows(
    model: Any,
    rows: int,
    *,
    start: int = 0,
    stop: int | None = None,
    seed: int = 0,
    conditions: dict[str, Any] | None = None,
    column: str | None = None,
    counts: dict[Any, int] | None = None,
    temperature: float = 1.0,
) -> Iterator[pd.DataFrame]:
    """Rows ``[start, stop)`` of the ``rows``-row request ``(seed, conditions, counts, temperature)``, one
    DataFrame per sampling block they touch (the first and last cut to the range).

    Parameters
    ----------
    model : fitted table synthesizer
    rows : int
        Rows of the whole request (ignored with ``counts``: their sum).
    start, stop : int
        The part wanted, ``0 ≤ start ≤ stop ≤ rows`` (``stop=None``: to the end).
    seed : int
        Seed of the whole request (≥ 0); block ``b`` uses :func:`block_seed` ``(seed, b)``.
    conditions, column, counts, temperature
        As for :meth:`~simulacra.synthesizers.Synthesizer.sample` and ``sample_counts``.

    Yields
    ------
    DataFrame
        Consecutive pieces, fitted columns and dtypes, index from 0 within each piece. A request of 0
        rows yields one empty piece (the columns still count).

    Raises
    ------
    ConfigError
        A bad range or seed. ConditionError and ConfigError from the model, raised by the first block.
    """
    plan = BlockPlan.make(rows, counts)
    stop = plan.rows if stop is None else stop
    start = check_value("sample", "start", start, Integer(ge=0, le=plan.rows))
    stop = check_value("sample", "stop", stop, Integer(ge=start, le=plan.rows))
    seed = check_value("sample", "seed", seed, Integer(ge=0, le=MAX_SEED))
    draw = _block_sampler(
        model, plan, seed=seed, conditions=conditions, column=column, temperature=temperature
    )
    if plan.rows == 0:
        yield draw(0)
        return
    for b in plan.blocks_between(start, stop):
        lo, hi = int(plan.starts[b]), int(plan.starts[b + 1])
        block = draw(b)
        piece = block.iloc[max(start - lo, 0) : min(stop, hi) - lo]
        yield piece.reset_index(drop=True) if len(piece) != len(block) else block


def iter_chunks(pieces: Iterator[pd.DataFrame], chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Re-cut a stream of DataFrames into chunks of exactly ``chunk_rows`` rows (the last one shorter),
    holding at most one piece and one chunk at a time. A stream of empty pieces gives one empty chunk.

    Raises
    ------
    ConfigError
        ``chunk_rows`` not an integer in ``[1, 100,000,000]``.
    """
    chunk_rows = check_chunk_rows(chunk_rows)
    held: list[pd.DataFrame] = []
    n_held, yielded = 0, False
    empty: pd.DataFrame | None = None
    for piece in pieces:
        if empty is None:
            empty = piece.iloc[:0]
        while len(piece):
            take = min(chunk_rows - n_held, len(piece))
            held.append(piece.iloc[:take])
            n_held += take
            piece = piece.iloc[take:]
            if n_held == chunk_rows:
                yield _join(held)
                held, n_held, yielded = [], 0, True
    if held:
        yield _join(held)
    elif not yielded and empty is not None:
        yield empty


def _join(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return parts[0].reset_index(drop=True) if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def check_chunk_rows(chunk_rows: Any) -> int:
    """``chunk_rows`` checked: an integer in ``[1, 100,000,000]``.

    Raises
    ------
    ConfigError
        Anything else.
    """
    return check_value("sample", "`chunk_rows`", chunk_rows, Integer(ge=1, le=100_000_000))


__all__ = [
    "BLOCK_ROWS",
    "CHUNK_ROWS",
    "BlockPlan",
    "block_seed",
    "check_chunk_rows",
    "iter_chunks",
    "iter_rows",
]
