"""TensorBoard logging of a fit: an ``on_epoch`` callback that writes each epoch's losses as scalars.

``simulacra fit … --log-dir DIR`` (or ``FitRequest.log_dir``) attaches a :class:`TensorBoardLogger` to
any model that trains in epochs; watch the run with ``tensorboard --logdir DIR``. The event files are
written by ``tensorboardX`` (the format TensorBoard reads, without TensorFlow or the TensorBoard server
installed). Each fit adds its own event file to ``DIR``, so runs sit side by side; a resumed fit
continues the epoch numbers of its checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType


class TensorBoardLogger:
    """Write each epoch's losses to TensorBoard event files.

    Parameters
    ----------
    log_dir : path-like
        The folder of the event files (created if missing; an existing one keeps its runs).
    tag : str
        Prefix of every scalar's tag, e.g. the model's registry name: ``"tvae/loss"``.

    Notes
    -----
    Call it as ``on_epoch(epoch, losses)``: ``epoch`` 0-based (written as step ``epoch + 1``),
    ``losses`` ``{name: value}`` floats in the model's own units (a reconstruction loss in nats, a
    critic's Wasserstein estimate, …). Events are flushed every epoch, so TensorBoard shows a fit
    while it runs. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, log_dir: str | os.PathLike[str], tag: str) -> None:
        from tensorboardX import SummaryWriter  # only for a fit that asks for it

        self.log_dir = Path(log_dir)
        self.tag = tag
        self._writer = SummaryWriter(logdir=str(self.log_dir))

    def __call__(self, epoch: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self._writer.add_scalar(f"{self.tag}/{name}", float(value), int(epoch) + 1)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["TensorBoardLogger"]
