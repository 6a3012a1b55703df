"""Where the neural table models (CTGAN, TVAE, diffusion) read their training rows from.

The encoded training matrix ``(N, D)`` float32 of a :class:`~simulacra.transform.TableTransformer` is
either one tensor in memory (:class:`MemoryBatches`) or a file on disk that training reads through a
read-only memory map (:class:`DiskBatches`). Both answer the same three requests: the rows at given
positions (a batch), the rows in contiguous chunks (passes over the data after training), and a
fingerprint (which ties checkpoints to their data). A model trained from either gets the same batches in
the same order, so the same seed gives the same weights (tested).

:func:`encode_batches` builds a source from a DataFrame or from a stream of DataFrames (a table read in
chunks, :func:`simulacra.io.iter_table`), encoding :data:`~simulacra.transform.TableTransformer.BLOCK_ROWS`
rows at a time: memory holds one block of raw rows and one of encoded rows, never the whole table.

Memory of the disk source: pages of the map that a read touches count in the process's resident set
until they are dropped, and a fault maps more than the page it needs: 64 KiB around it on older
kernels (fault-around), a whole large folio (up to 2 MiB) where the file system caches the file in
large folios (ext4 on Linux 6.18 here: 500 random rows of a 2.2 GB file mapped about 830 MB at once,
and one epoch of random batches kept the whole file resident). :class:`DiskBatches` therefore reads a
batch :data:`GATHER_ROWS` rows at a time and drops the map's pages (``madvise(MADV_DONTNEED)``) after
each piece and after each chunk: the map's share of the resident set stays below
``GATHER_ROWS × 2 MiB`` whatever ``N``. The pages stay in the kernel's page cache while memory allows
(a later read is a minor fault, not a disk read); a matrix larger than memory is read from disk. On
2 cores, a random batch of 500 rows of 180 columns takes about 1.5 ms this way, against 0.1 ms from a
map that is never released (and 1.0 ms with one positional read per row).
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from simulacra.errors import ConfigError, DataError
from simulacra.synthesizers.base import BATCH_SOURCES

#: rows per piece of :meth:`BatchSource.chunks` (passes over the data after training)
CHUNK_ROWS = 65_536
#: rows per piece of a random read from a :class:`DiskBatches`; the map's pages are dropped after each
GATHER_ROWS = 32
#: ``batch_source="auto"`` keeps a matrix of at most this many bytes in memory, and puts a larger one
#: (or one streamed from a file) on disk
MEMORY_BYTES = 1 * 2**30


class BatchSource:
    """The encoded training rows ``(N, D)`` float32 of a fit, in memory or on disk.

    Attributes
    ----------
    n : int
        Rows, ``N``.
    dim : int
        Matrix columns, ``D``.
    device : torch.device
        Where :meth:`rows` and :meth:`chunks` put their tensors.
    """

    def __init__(self, n: int, dim: int, device: torch.device) -> None:
        self.n, self.dim, self.device = int(n), int(dim), device

    def __len__(self) -> int:
        return self.n

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """The rows at positions ``idx`` ``(B,)`` long, in that order: ``(B, D)`` float32 on ``device``."""
        raise NotImplementedError

    def slice(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` ``(stop − start, D)`` float32 on ``device``."""
        raise NotImplementedError

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[torch.Tensor]:
        """The rows in order, ``rows`` at a time: ``(≤ rows, D)`` float32 tensors on ``device``."""
        for start in range(0, self.n, rows):
            yield self.slice(start, min(start + rows, self.n))

    def fingerprint(self) -> list[float]:
        """``[N, D, Σ x]`` (the sum in float64, chunk by chunk): what a checkpoint is checked against."""
        total = 0.0
        for chunk in self.chunks():
            total += float(chunk.double().sum())
        return [float(self.n), float(self.dim), total]

    def map_chunks(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``fn`` applied to every chunk of rows, the results concatenated along the rows (e.g. the
        category codes ``(N, S)`` of :meth:`SpanLayout.targets`)."""
        parts = [fn(chunk) for chunk in self.chunks()]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def close(self) -> None:
        """Free the rows (and the file of a disk source); the source is unusable after."""


class MemoryBatches(BatchSource):
    """Training rows held as one tensor ``(N, D)`` float32 on the model's device."""

    def __init__(self, matrix: np.ndarray | torch.Tensor, device: torch.device) -> None:
        self.matrix = torch.as_tensor(matrix).to(device)
        super().__init__(self.matrix.shape[0], self.matrix.shape[1], device)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        return self.matrix[idx]

    def slice(self, start: int, stop: int) -> torch.Tensor:
        return self.matrix[start:stop]

    def close(self) -> None:
        self.matrix = torch.zeros((0, self.dim))


class DiskBatches(BatchSource):
    """Training rows in a file of raw little-endian float32, C order, read through a read-only memory
    map whose pages are dropped after every read (see the module docstring); the file is deleted by
    :meth:`close`.

    Parameters
    ----------
    path : path
        The file, ``N·D·4`` bytes.
    dim : int
        ``D``.
    device : torch.device
    owned : bool
        Delete the file (and its folder, when that is empty) on :meth:`close`.

    Raises
    ------
    DataError
        The file's size is not a whole number of rows.
    """

    def __init__(
        self, path: str | os.PathLike[str], dim: int, device: torch.device, owned: bool = True
    ) -> None:
        self.path, self.owned = Path(path), owned
        size = self.path.stat().st_size
        if dim <= 0 or size % (4 * dim):
            raise DataError(
                f"{self.path}: {size} bytes is not a whole number of rows of {dim} float32 values"
            )
        super().__init__(size // (4 * dim), dim, device)
        self._file = open(self.path, "rb")  # held open for the map's lifetime
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        if self._map is not None and hasattr(mmap, "MADV_RANDOM"):
            self._map.madvise(mmap.MADV_RANDOM)
        buffer = self._map if self._map is not None else b""
        self.array = np.frombuffer(buffer, dtype="<f4").reshape(self.n, self.dim)

    def release(self) -> None:
        """Drop the map's pages from this process's resident set (they stay in the page cache)."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        positions = idx.cpu().numpy()
        out = np.empty((len(positions), self.dim), np.float32)
        for start in range(0, len(positions), GATHER_ROWS):
            stop = start + GATHER_ROWS
            np.take(self.array, positions[start:stop], axis=0, out=out[start:stop])
            self.release()
        return torch.from_numpy(out).to(self.device)

    def slice(self, start: int, stop: int) -> torch.Tensor:
        out = self.array[start:stop].copy()
        self.release()
        return torch.from_numpy(out).to(self.device)

    def close(self) -> None:
        self.array = np.zeros((0, self.dim), np.float32)  # the map's only export
        if self._map is not None:
            self._map.close()
            self._map = None
        self._file.close()
        if self.owned:
            self.path.unlink(missing_ok=True)
            try:
                self.path.parent.rmdir()
            except OSError:
                pass


def _blocks(frames: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Re-cut a stream of DataFrames into pieces of exactly ``rows`` rows (the last one shorter)."""
    held: list[pd.DataFrame] = []
    count = 0
    for frame in frames:
        while len(frame):
            take = frame.iloc[: rows - count]
            held.append(take)
            count += len(take)
            frame = frame.iloc[len(take) :]
            if count == rows:
                yield held[0] if len(held) == 1 else pd.concat(held)
                held, count = [], 0
    if count:
        yield held[0] if len(held) == 1 else pd.concat(held)


def encode_batches(
    transformer,
    data: pd.DataFrame | Iterable[pd.DataFrame],
    *,
    device: torch.device,
    where: str = "auto",
    directory: str | os.PathLike[str] | None = None,
    expected_rows: int | None = None,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> BatchSource:
    """Encode training rows with a fitted ``transformer`` into a :class:`BatchSource`.

    Parameters
    ----------
    transformer : TableTransformer
        Fitted; its :meth:`~simulacra.transform.TableTransformer.transform` runs block by block, each block
        given its position, so the matrix is the same however ``data`` arrives in pieces.
    data : DataFrame or iterable of DataFrames
        The rows, whole or in chunks of any size (e.g. :func:`simulacra.io.iter_table`).
    device : torch.device
    where : {"auto", "memory", "disk"}
        ``auto``: memory for a DataFrame whose matrix takes at most :data:`MEMORY_BYTES`, disk otherwise
        (and always for a stream, whose size is not known in advance).
    directory : path, optional
        Where a disk source puts its file (a new temporary folder inside it); default the system's
        temporary folder (``TMPDIR``).
    expected_rows : int, optional
        Rows a stream will give, for the disk-space check before anything is written.
    prepare : callable, optional
        Applied to every raw piece before it is encoded (e.g. to blank identifier columns).
    on_rows : callable, optional
        Progress: called with the rows of every encoded block.

    Returns
    -------
    BatchSource
        ``(N, transformer.output_dim_)`` float32.

    Raises
    ------
    ConfigError
        An unknown ``where``; a disk source that would not fit in the free space of ``directory``.
    DataError
        ``data`` holds no rows.
    """
    if where not in BATCH_SOURCES:
        raise ConfigError(
            f"batch source {where!r} is not one of {', '.join(BATCH_SOURCES)}; pick one of those"
        )
    dim = int(transformer.output_dim_)
    block = int(transformer.BLOCK_ROWS)
    frame = isinstance(data, pd.DataFrame)
    if where == "auto":
        where = "memory" if frame and len(data) * dim * 4 <= MEMORY_BYTES else "disk"
    pieces = _blocks([data] if frame else data, block)
    if where == "memory":
        if frame and prepare is None and on_rows is None:
            return MemoryBatches(transformer.transform(data), device)
        parts, first = [], 0
        for piece in pieces:
            piece = prepare(piece) if prepare is not None else piece
            parts.append(transformer.transform(piece, first_row=first))
            first += len(piece)
            if on_rows is not None:
                on_rows(len(piece))
        if not parts:
            raise DataError("no training rows to encode; give at least one row")
        return MemoryBatches(np.concatenate(parts) if len(parts) > 1 else parts[0], device)

    base = Path(directory) if directory is not None else Path(tempfile.gettempdir())
    rows = len(data) if frame else expected_rows
    if rows is not None:
        need, free = int(rows) * dim * 4, shutil.disk_usage(base).free
        if need > free:
            raise ConfigError(
                f"the training rows need {need / 2**30:,.1f} GiB of disk for their memory-mapped matrix and "
                f"{free / 2**30:,.1f} GiB is free under {base}; free space there, or set TMPDIR elsewhere"
            )
    folder = Path(tempfile.mkdtemp(prefix="simulacra-batches-", dir=base))
    path = folder / "matrix.f32"
    try:
        first = 0
        with open(path, "wb") as out:
            for piece in pieces:
                piece = prepare(piece) if prepare is not None else piece
                np.ascontiguousarray(transformer.transform(piece, first_row=first), "<f4").tofile(out)
                first += len(piece)
                if on_rows is not None:
                    on_rows(len(piece))
        if first == 0:
            raise DataError("no training rows to encode; give at least one row")
        return DiskBatches(path, dim, device)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
