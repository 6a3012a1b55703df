"""The base of the PyTorch table synthesizers (CTGAN, TVAE): mode-specific normalization of the table,
the shared training loop of :class:`~simulacra.synthesizers.training.TorchTraining`, the per-span
operations of :class:`~simulacra.synthesizers.spans.SpanLayout`, and bounded conditional sampling.
"""

from __future__ import annotations

import os
import warnings
from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch

from simulacra.errors import ConditionError, ConfigError
from simulacra.synthesizers.base import BATCH_SOURCES, Synthesizer
from simulacra.synthesizers.batches import BatchSource, encode_batches
from simulacra.synthesizers.spans import SpanLayout
from simulacra.synthesizers.training import TorchTraining, progress_bar, resolve_device
from simulacra.transform import TableTransformer


class TorchSynthesizer(TorchTraining, Synthesizer):
    """Base of the PyTorch table synthesizers (CTGAN, TVAE): mode-specific normalization of the table,
    the shared training loop of :class:`TorchTraining`, and bounded conditional sampling.

    Subclass hooks besides :class:`TorchTraining`'s: ``_build(x)`` with the training rows (a
    :class:`~simulacra.synthesizers.batches.BatchSource`),
    ``_generate(n, cond)`` (matrix rows, optionally steered to one category), ``_after_fit(x)``,
    ``_restore(arrays)``.
    """

    max_modes: int
    streams_training_rows = True
    #: whether ``_generate(n, cond)`` can steer towards a category (else every condition is met by
    #: bounded rejection)
    _steers: bool = True

    def fit(
        self,
        data: pd.DataFrame,
        metadata=None,
        *,
        pii: str = "fake",
        pii_key: bytes | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        rows: Callable[[], Iterable[pd.DataFrame]] | None = None,
        expected_rows: int | None = None,
        batch_source: str = "auto",
        batch_dir: str | os.PathLike[str] | None = None,
    ) -> TorchSynthesizer:
        """Fit as :meth:`Synthesizer.fit` (``pii``, ``pii_key`` as there), with the training options of
        :class:`~simulacra.synthesizers.training.Trainer` and a choice of where the training rows live
        (:mod:`simulacra.synthesizers.batches`).

        Parameters
        ----------
        rows : callable, optional
            Returns the training rows as a stream of DataFrames (e.g. a table read in chunks by
            :func:`simulacra.io.iter_table`) when ``data`` is only a sample of them: the metadata, the
            identifiers and the transformer are fitted on ``data``, and the networks train on every row
            of the stream, encoded block by block into a memory-mapped file.
        expected_rows : int, optional
            Rows the stream holds (for the disk-space check and the progress bar).
        batch_source : {"auto", "memory", "disk"}
            Where the encoded training matrix lives: one tensor in memory, or a memory-mapped file
            (:class:`~simulacra.synthesizers.batches.DiskBatches`); ``auto`` keeps a matrix of up to
            1 GiB in memory. Training is the same, batch for batch, from either.
        batch_dir : path, optional
            Folder for a disk source's temporary file (default ``TMPDIR``).

        Raises
        ------
        ConfigError
            The checkpoint was written for other data or other hyper-parameters; an unknown
            ``batch_source``; no room on disk for the matrix.
        """
        if batch_source not in BATCH_SOURCES:
            raise ConfigError(
                f"batch_source {batch_source!r} is not one of {', '.join(BATCH_SOURCES)}; pick one of those"
            )
        self._fit_trainer = self._trainer(checkpoint_dir, checkpoint_every, resume, on_epoch)
        self._source_options = {
            "rows": rows,
            "expected_rows": expected_rows,
            "batch_source": batch_source,
            "batch_dir": batch_dir,
        }
        try:
            return super().fit(data, metadata, pii=pii, pii_key=pii_key)  # type: ignore[return-value]
        finally:
            del self._fit_trainer, self._source_options

    def _fit(self, data: pd.DataFrame) -> None:
        self.device_ = resolve_device(self.device)
        trainer = self._fit_trainer
        private = trainer.strategy  # DP-SGD: the encoding comes from the public domain, never from the data
        if private is not None:
            self.transformer_ = private.transformer(self, data, trainer.saved_extra())
            self.domain_ = private.domain
        else:
            self.transformer_ = self._make_transformer().fit(data, self.metadata_)
        source = self._encode(data)
        self.layout_ = SpanLayout(self.transformer_.spans_, self.device_)
        try:
            with self._seeded(self.seed):
                self._build(source)
                with warnings.catch_warnings():
                    # Opacus' hook on the first layer fires on the output side (the data needs no gradient)
                    warnings.filterwarnings("ignore", message="Full backward hook is firing")
                    trainer.fit(self, source)
                self._after_fit(source)
        finally:
            source.close()
        if private is not None:
            self.metadata_ = self.domain_.public_metadata(self.metadata_)

    def _grad_samplers(self) -> dict[type, Any]:
        """Hook (DP-SGD): per-example gradient functions ``(module, activations, backprops) → {param:
        (B, …)}`` for the model's own layers that Opacus does not know."""
        return {}

    def _replace_optimizer(self, name: str, optimizer: Any) -> None:
        """Hook (DP-SGD): put the DP optimizer where the model keeps the optimizer called ``name``."""
        raise NotImplementedError(f"{self.name} cannot train with DP-SGD")

    def _encode(self, data: pd.DataFrame) -> BatchSource:
        """The training rows as a :class:`BatchSource`: ``data`` encoded, or the stream of the ``rows``
        fit option, each piece reduced to what the model sees (:meth:`_learnable`)."""
        opts = getattr(self, "_source_options", {})
        stream = opts.get("rows")
        where, directory = opts.get("batch_source", "auto"), opts.get("batch_dir")
        if stream is None:
            return encode_batches(
                self.transformer_, data, device=self.device_, where=where, directory=directory
            )
        expected = opts.get("expected_rows")
        with progress_bar("rows", self.verbose) as progress:
            task = progress.add_task(f"{self.name}: encoding", total=expected, losses="")
            return encode_batches(
                self.transformer_,
                stream(),
                device=self.device_,
                where=where,
                directory=directory,
                expected_rows=expected,
                prepare=self._learnable,
                on_rows=lambda k: progress.update(task, advance=k),
            )

    def _make_transformer(self) -> TableTransformer:
        """Hook: the table encoding (CTGAN's and TVAE's mode-specific normalization by default)."""
        return TableTransformer(
            numerical="mode_specific", categorical="onehot", seed=self.seed, max_modes=self.max_modes
        )

    @abstractmethod
    def _build(self, x: BatchSource) -> None: ...

    @abstractmethod
    def _generate(self, n: int, cond: tuple[int, int] | None) -> torch.Tensor: ...

    def _after_fit(self, x: BatchSource) -> None:
        """Hook run once after training, with the training rows (closed right after)."""

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        categorical, numerical = self._parse_conditions(conditions)
        # steer with the rarest categorical condition; the others are met by bounded rejection
        steerable = [c for c in categorical if c[0] in self.layout_.cond_spans and self._steers]
        first = min(steerable, key=lambda c: c[3]) if steerable else None
        primary = first[:2] if first is not None else None
        others = [c for c in categorical if c is not first]
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        parts, kept, drawn = [], 0, 0
        limit = 100 * n + 20_000
        with self._seeded(seed), torch.inference_mode():
            for module in self._modules().values():
                module.eval()
            while kept < n:
                rate = kept / drawn if drawn else 1.0
                want = (
                    n - kept
                    if not others
                    else int(min(200_000, max(1_000, 2 * (n - kept) / max(rate, 1e-3))))
                )
                rows = self._generate(want, primary)
                drawn += want
                if primary is not None:
                    rows = self._force(rows, *primary)
                if others:
                    targets = self.layout_.targets(rows)
                    keep = torch.ones(rows.shape[0], dtype=torch.bool, device=rows.device)
                    for span, cat, _, _ in others:
                        keep &= targets[:, span] == cat
                    rows = rows[keep]
                    if (drawn >= 20_000 and kept + rows.shape[0] == 0) or (drawn >= limit and kept < n):
                        wanted = ", ".join(f"{c}={v!r}" for c, v in conditions.items())
                        raise ConditionError(
                            f"only {kept + rows.shape[0]} of {n} rows with {wanted} in {drawn} draws: the "
                            "combination is too rare or never occurs in the training data; drop a condition"
                        )
                parts.append(rows[: n - kept])
                kept += parts[-1].shape[0]
        if not parts:
            matrix = np.zeros((0, self.layout_.dim), np.float32)
        else:
            matrix = (parts[0] if len(parts) == 1 else torch.cat(parts)).cpu().numpy()
        out = self.transformer_.inverse_transform(matrix[:n])
        for col, value in numerical.items():
            out[col] = pd.Series([value] * len(out), dtype=object).astype(out[col].dtype, errors="ignore")
        return out

    def _force(self, rows: torch.Tensor, span: int, cat: int) -> torch.Tensor:
        """Set discrete span ``span`` of every row to category ``cat`` (an exact one-hot)."""
        cols = self.layout_.gather[span][self.layout_.valid[span]]
        rows[:, cols] = 0.0
        rows[:, cols[cat]] = 1.0
        return rows

    def _parse_conditions(
        self, conditions: dict[str, Any]
    ) -> tuple[list[tuple[int, int, str, float]], dict[str, Any]]:
        """Conditions → ``[(discrete span, category, column, frequency)]`` and ``{numerical column: value}``.

        Raises
        ------
        ConditionError
            As :meth:`TableTransformer.condition_targets`.
        """
        span_of = {(s.column, s.role): i for i, s in enumerate(self.layout_.discrete_spans)}
        categorical, numerical = [], {}
        for col, value in conditions.items():
            targets = self.transformer_.condition_targets(col, value)
            if "value" in targets and (col, "value") not in span_of:
                numerical[col] = value  # a number: set exactly after decoding (so not missing either)
                continue
            role = "value" if "value" in targets else "missing"  # a category, or a missing number
            encoder = self.transformer_.columns_[col]["null" if role == "missing" else "value"]
            i = int(targets[role])
            categorical.append((span_of[(col, role)], i, col, float(encoder.freqs_[i])))
        return categorical, numerical

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "transformer": self.transformer_.to_state(),
            "history": self.history_,
            "epochs_trained": self.epochs_trained_,
        }
        if hasattr(self, "privacy_"):
            state |= {"privacy": self.privacy_, "domain": self.domain_.to_state()}
        return state, self._extra_arrays()

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.device_ = resolve_device(self.device)
        self.transformer_ = TableTransformer.from_state(state["transformer"])
        self.layout_ = SpanLayout(self.transformer_.spans_, self.device_)
        self.history_ = state["history"]
        self.epochs_trained_ = state["epochs_trained"]
        if "privacy" in state:
            from simulacra.transform.domain import Domain

            self.privacy_ = dict(state["privacy"])
            self.domain_ = Domain.from_state(state["domain"])
        self._restore(arrays)

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the networks (empty) and non-weight state after a load; weights follow."""
