"""The training machinery every PyTorch synthesizer shares, tables and images.

:class:`TorchTraining` is the epoch loop with Rich progress (losses, ETA), early stopping, checkpoints
every N epochs with resume, seeding, thread limits, and ``state_dict`` persistence (``weights.pt``, read
with ``weights_only=True``; no pickle). :class:`TorchTraining` declares the parameters it reads
(:class:`~simulacra.synthesizers.hyper.Hyper`); a model redeclares one only to change its default.
Nothing here changes process-wide state beyond a fit or a sample: torch's thread count and denormal
flushing are set for the duration of the work and restored after it.
"""

from __future__ import annotations

import math
import os
import warnings
from abc import abstractmethod
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simulacra.errors import ConfigError, DataError
from simulacra.synthesizers.hyper import Hyper
from simulacra.validation import MAX_SEED, Boolean, Integer, Optional, Text

CHECKPOINT = "checkpoint.pt"


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def threads(n: int | None = None):
    """Run with ``n`` threads (default :func:`available_cores`) in torch's intra-op pool and in the
    BLAS/OpenMP pools threadpoolctl finds (NumPy's, scikit-learn's), restoring the previous counts on
    exit: a fit leaves the process as it found it."""
    from threadpoolctl import threadpool_limits

    n = int(n or available_cores())
    before = torch.get_num_threads()
    with threadpool_limits(limits=n):
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``/``"cuda:N"`` or ``"auto"`` (CUDA when available). CUDA asked for but absent
    falls back to the CPU with a warning.

    Raises
    ------
    ConfigError
        ``name`` is not a device torch knows.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device; use 'cpu', 'cuda' or 'auto'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device {name!r} asked for but CUDA is not available; using the CPU", stacklevel=2)
        return torch.device("cpu")
    return device


def progress_bar(unit: str, verbose: bool = True):
    """A Rich progress bar on stderr for ``unit`` steps (epochs, iterations) with elapsed time, ETA and
    a ``losses`` field; shows nothing when ``verbose`` is false."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=Console(stderr=True),
        disable=not verbose,
    )


def _fingerprint(x) -> list[float]:
    """``[N, D, Σ x]`` of the training data: an array, or a
    :class:`~simulacra.synthesizers.batches.BatchSource` (summed chunk by chunk)."""
    if hasattr(x, "fingerprint"):
        return x.fingerprint()
    return [float(x.shape[0]), float(x.shape[1]), float(np.float64(x).sum())]


class TorchTraining:
    """The training machinery every PyTorch synthesizer shares (tables and images).

    The epoch loop with Rich progress (losses, ETA), early stopping, checkpoints every N epochs with
    resume, seeding, and ``state_dict`` persistence (``weights.pt``, read with ``weights_only=True``).

    Subclass hooks: ``_build(...)`` (networks, optimizers), ``_train_epoch() -> dict`` (mean losses),
    ``_monitor(losses) -> float`` (the early-stopping quantity, lower is better), ``_modules()`` /
    ``_optimizers()`` (name → object, for ``state_dict``), ``_end_of_epoch(epoch)`` (e.g. sample grids).
    """

    epochs = Hyper(300, Integer(ge=0, le=100_000), "passes over the shuffled training data")
    batch_size = Hyper(500, Integer(ge=1, le=1_000_000), "rows (items) per optimiser step")
    patience = Hyper(
        None,
        Optional(Integer(ge=1, le=100_000)),
        "stop after this many epochs without improvement of the monitored loss; None trains every epoch",
    )
    device = Hyper("cpu", Text(), '"cpu", "cuda" or "auto" (CUDA when available, with a warning if not)')
    seed = Hyper(0, Integer(ge=0, le=MAX_SEED), "seeds initialisation, every batch and (by default) sampling")
    verbose = Hyper(True, Boolean(), "show a Rich progress bar with the losses and the ETA")
    name: str
    device_: torch.device
    #: capability flag read by the CLI and the pipeline (see BaseSynthesizer.trains_in_epochs)
    trains_in_epochs = True
    #: hyper-parameters that may differ between a checkpoint and the fit resuming it
    _training_only: tuple[str, ...] = ("epochs", "verbose")

    def _set_options(
        self,
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int,
        resume: bool,
        on_epoch: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        """Keep the fit-time options (they do not change the model) for :meth:`_run_epochs`:

        checkpoint_dir: folder for ``checkpoint.pt`` (weights, optimizer states, RNG state, losses),
            written atomically every ``checkpoint_every`` epochs; removed after a successful fit.
        resume: continue from ``checkpoint_dir/checkpoint.pt`` when it exists. A resumed fit gives the
            same weights as an uninterrupted one (the RNG state is restored).
        on_epoch: called with ``(epoch, losses)`` after every epoch (0-based).
        """
        self._options = {
            "checkpoint_dir": Path(checkpoint_dir) if checkpoint_dir is not None else None,
            "checkpoint_every": int(checkpoint_every),
            "resume": resume,
            "on_epoch": on_epoch,
        }

    def _run_epochs(self, data) -> None:
        """Train for ``epochs`` (inside :meth:`_seeded`, after ``_build``); sets ``history_`` and
        ``epochs_trained_``. ``data`` (the training data: an array or a
        :class:`~simulacra.synthesizers.batches.BatchSource`) ties checkpoints to their data.

        Raises
        ------
        ConfigError
            The checkpoint to resume was written for other data or other hyper-parameters.
        """
        opts = getattr(self, "_options", {})
        history: list[dict[str, float]] = []
        start, best, stale = 0, math.inf, 0
        ckpt = opts.get("checkpoint_dir")
        fingerprint = _fingerprint(data) if ckpt is not None else []
        if ckpt is not None and opts.get("resume") and (ckpt / CHECKPOINT).is_file():
            start, history, best, stale = self._load_checkpoint(ckpt / CHECKPOINT, fingerprint)
            self._resumed(start)
        with self._progress() as progress:
            task = progress.add_task(self.name, total=int(self.epochs), completed=start, losses="")
            for epoch in range(start, int(self.epochs)):
                losses = self._train_epoch()
                history.append(losses)
                shown = "  ".join(f"{k} {v:+.3f}" for k, v in losses.items())
                progress.update(task, advance=1, losses=shown)
                monitored = self._monitor(losses)
                # the first epoch always improves on "no epoch yet" (inf − 1e-3·inf is NaN, which no
                # loss is below: early stopping used to stop after `patience` epochs, whatever the loss)
                if not math.isfinite(best) or monitored < best - 1e-3 * max(1.0, abs(best)):
                    best, stale = monitored, 0
                else:
                    stale += 1
                self._end_of_epoch(epoch)
                every = opts.get("checkpoint_every", 0)
                if ckpt is not None and every > 0 and (epoch + 1) % every == 0:
                    self._save_checkpoint(ckpt / CHECKPOINT, epoch + 1, history, best, stale, fingerprint)
                if opts.get("on_epoch") is not None:
                    opts["on_epoch"](epoch, losses)
                if self.patience is not None and stale >= int(self.patience):
                    progress.update(task, description=f"{self.name} (early stop)")
                    break
        self.history_ = history
        self.epochs_trained_ = len(history)
        if ckpt is not None and (ckpt / CHECKPOINT).is_file():
            (ckpt / CHECKPOINT).unlink()
            if ckpt.is_dir() and not any(ckpt.iterdir()):
                ckpt.rmdir()

    @contextmanager
    def _seeded(self, seed: int):
        """Run with torch's global RNG seeded (the caller's RNG state is restored on exit), with
        :func:`threads` limits, and with denormal floats flushed to zero (set back to torch's default,
        off, on exit): as weights and gradients shrink during training, denormal
        arithmetic made late TVAE epochs 2.4× slower than early ones on x86 CPUs. The results were equal
        to the printed precision with and without flushing."""
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with threads(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(seed))
            flushed = torch.set_flush_denormal(True)
            try:
                yield
            finally:
                if flushed:
                    torch.set_flush_denormal(False)

    def _progress(self):
        return progress_bar("epochs", self.verbose)

    def _save_checkpoint(
        self, path: Path, epoch: int, history: list, best: float, stale: int, fingerprint: list[float]
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": self.name,
            "params": {k: v for k, v in self.get_params().items() if k not in self._training_only},
            "fingerprint": fingerprint,
            "epoch": epoch,
            "history": history,
            "best": best,
            "stale": stale,
            "modules": {k: m.state_dict() for k, m in self._modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self._optimizers().items()},
            "extra": self._checkpoint_extra(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device_) if self.device_.type == "cuda" else None,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def _load_checkpoint(self, path: Path, fingerprint: list[float]) -> tuple[int, list, float, int]:
        """Restore a checkpoint (an untrusted file: read with ``weights_only=True``, and any damage is
        one ConfigError that names the file, without torch's advice to load it unsafely)."""
        try:
            payload = torch.load(path, map_location=self.device_, weights_only=True)
            if not isinstance(payload, dict):
                raise ValueError("not a mapping")
        except Exception as exc:  # torch raises several types for damaged or hostile files
            raise ConfigError(
                f"{path}: not a readable simulacra checkpoint ({_first_sentence(exc)}); delete it or drop `resume`"
            ) from None
        params = {k: v for k, v in self.get_params().items() if k not in self._training_only}
        saved = {k: list(v) if isinstance(v, tuple) else v for k, v in (payload.get("params") or {}).items()}
        if payload.get("model") != self.name or saved != {
            k: list(v) if isinstance(v, tuple) else v for k, v in params.items()
        }:
            raise ConfigError(
                f"{path}: checkpoint of other hyper-parameters; use the same `params` values or drop `resume`"
            )
        try:
            if not np.allclose(payload["fingerprint"], fingerprint, rtol=1e-6):
                raise ConfigError(f"{path}: checkpoint of other training data; delete it or drop `resume`")
            for k, m in self._modules().items():
                m.load_state_dict(payload["modules"][k])
            for k, o in self._optimizers().items():
                o.load_state_dict(payload["optimizers"][k])
            torch.set_rng_state(payload["rng"].cpu())
            if payload.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(payload["cuda_rng"].cpu(), self.device_)
            return (
                int(payload["epoch"]),
                list(payload["history"]),
                float(payload["best"]),
                int(payload["stale"]),
            )
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{path}: damaged checkpoint ({_first_sentence(exc)}); delete it or drop `resume`"
            ) from None

    # ------------------------------------------------------------------ the best epoch
    def _start_best(self) -> None:
        """Before training: no best epoch yet (for a model that validates every epoch and keeps the
        weights of the best one, Prechelt 1998, "Early Stopping — But When?")."""
        self._best: tuple[float, int, dict] | None = None
        self._epoch = 0

    def _keep_if_best(self, loss: float) -> None:
        """After an epoch's validation ``loss``: count the epoch, and copy the weights if no epoch so
        far had a lower loss."""
        self._epoch += 1
        if self._best is None or loss < self._best[0]:
            weights = {
                k: {n: t.detach().clone() for n, t in m.state_dict().items()}
                for k, m in self._modules().items()
            }
            self._best = (loss, self._epoch, weights)

    def _restore_best(self) -> None:
        """After training: load the best epoch's weights (if any epoch was validated) and set
        ``best_epoch_`` (1-based; the last epoch without validation); forgets the copies."""
        self.best_epoch_ = len(self.history_)
        if getattr(self, "_best", None) is not None:
            _, self.best_epoch_, weights = self._best
            for k, m in self._modules().items():
                m.load_state_dict(weights[k])
        self.__dict__.pop("_best", None)
        self.__dict__.pop("_epoch", None)

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _train_epoch(self) -> dict[str, float]: ...

    @abstractmethod
    def _monitor(self, losses: dict[str, float]) -> float: ...

    @abstractmethod
    def _modules(self) -> dict[str, nn.Module]: ...

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    def _end_of_epoch(self, epoch: int) -> None:
        """Hook run after every epoch (0-based), before the checkpoint."""

    def _resumed(self, epochs_done: int) -> None:
        """Hook run when a fit resumes from a checkpoint after ``epochs_done`` epochs: the epoch count
        of :meth:`_keep_if_best` continues there (the best weights before the interruption are not in
        the checkpoint, so the search restarts)."""
        self._epoch = epochs_done

    def _checkpoint_extra(self) -> dict:
        """Hook: JSON-like state a resumed fit needs before training starts (e.g. a DP model's domain),
        saved in the checkpoint and read back by :meth:`_resume_extra`."""
        return {}

    def _resume_extra(self) -> dict:
        """What :meth:`_checkpoint_extra` saved in the checkpoint this fit will resume from (``{}``
        without one, or when it cannot be read: :meth:`_load_checkpoint` reports that)."""
        opts = getattr(self, "_options", {})
        ckpt = opts.get("checkpoint_dir")
        if ckpt is None or not opts.get("resume") or not (ckpt / CHECKPOINT).is_file():
            return {}
        try:
            payload = torch.load(ckpt / CHECKPOINT, map_location="cpu", weights_only=True)
            extra = payload.get("extra") if isinstance(payload, dict) else None
        except Exception:  # damaged: _load_checkpoint says so, with the fix
            return {}
        return extra if isinstance(extra, dict) else {}

    # ------------------------------------------------------------------ persistence
    def _save_extra(self, directory: Path) -> None:
        super()._save_extra(directory)  # type: ignore[misc]
        torch.save({k: m.state_dict() for k, m in self._modules().items()}, directory / "weights.pt")

    def _load_extra(self, directory: Path) -> None:
        super()._load_extra(directory)  # type: ignore[misc]
        try:
            weights = torch.load(directory / "weights.pt", map_location=self.device_, weights_only=True)
            for k, m in self._modules().items():
                m.load_state_dict(weights[k])
        except Exception as exc:  # damaged or hostile weights: BaseSynthesizer.load reports the folder
            raise DataError(f"weights.pt: {_first_sentence(exc)}") from None


def _first_sentence(exc: BaseException) -> str:
    """The exception's type and first sentence: torch follows some load errors with paragraphs of
    advice, including retrying with ``weights_only=False``, which must never be given for an untrusted
    file."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text.split('. ')[0][:200]}"
