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
from typing import Any

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


def ema_update(average: nn.Module, model: nn.Module, ema: float, step: int) -> None:
    """Move ``average``'s weights towards ``model``'s after optimizer step ``step`` (0-based): an
    exponential moving average with decay ``min(ema, (1 + step) / (10 + step))``, so that the first,
    random weights fade quickly (the warm-up of the diffusion models' sampling weights)."""
    decay = min(float(ema), (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        torch._foreach_lerp_(list(average.parameters()), list(model.parameters()), 1.0 - decay)


def steps_taken(optimizer: torch.optim.Optimizer) -> int:
    """Optimizer steps taken so far, read from the state of its first parameter (so a learning-rate
    schedule or an EMA warm-up resumes with a checkpoint); 0 before the first step."""
    first = optimizer.param_groups[0]["params"][0]
    step = optimizer.state.get(first, {}).get("step", 0)
    return int(step.item() if torch.is_tensor(step) else step)


class TorchTraining:
    """What every PyTorch synthesizer shares (tables, images, texts, series): the training
    hyper-parameters, seeding, the best-epoch copy and ``state_dict`` persistence (``weights.pt``, read
    with ``weights_only=True``). The epoch loop, early stopping, checkpoints with resume and progress
    are the :class:`Trainer`'s, which ``fit`` builds from its options and runs beside the model.

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

    def _trainer(
        self,
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int,
        resume: bool,
        on_epoch: Callable[[int, dict[str, float]], None] | None,
    ) -> Trainer:
        """The :class:`Trainer` of one ``fit`` with its options (they do not change the model), the
        Rich progress bar (when ``verbose``) and ``on_epoch`` as its callbacks. ``fit`` keeps it in
        ``_fit_trainer`` while it trains (hooks such as a DP model's domain read the checkpoint through
        it) and drops it after."""
        callbacks: list[Callback] = [RichProgress(self.name, bool(self.verbose))]
        if on_epoch is not None:
            callbacks.append(EpochFunction(on_epoch))
        return Trainer(
            Path(checkpoint_dir) if checkpoint_dir is not None else None,
            int(checkpoint_every),
            bool(resume),
            callbacks,
            self._strategy(),
        )

    def _strategy(self) -> Any:
        """Hook: the training strategy this fit's :class:`Trainer` is given (``None``: plain training;
        a DP model's :class:`~simulacra.synthesizers.dp.sgd.DPSGD`)."""
        return None

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

    def _planned_epochs(self, items: int) -> int:
        """Hook: the epochs a fit over ``items`` training items runs, early stopping aside (``epochs``;
        a model whose training budget counts optimiser steps caps it)."""
        return int(self.epochs)

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
        outside a fit, without one, or when it cannot be read)."""
        trainer = getattr(self, "_fit_trainer", None)
        return trainer.saved_extra() if trainer is not None else {}

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


# ---------------------------------------------------------------------- the trainer beside the model
class Callback:
    """Something a :class:`Trainer` tells about a fit's progress (Lightning's callbacks): the Rich
    progress bar, a user's ``on_epoch`` function, a logger. Every method is optional."""

    def on_fit_start(self, epochs: int, done: int) -> None:
        """Training starts: ``epochs`` planned, ``done`` of them already trained (a resumed fit)."""

    def on_epoch_end(self, epoch: int, losses: dict[str, float]) -> None:
        """Epoch ``epoch`` (0-based) ended with these mean losses; its checkpoint is written."""

    def on_fit_end(self, stopped_early: bool) -> None:
        """Training ended, after its last epoch or early; called however the fit ends."""


class RichProgress(Callback):
    """The epochs bar on stderr with the latest losses and the ETA; shows nothing unless ``visible``."""

    def __init__(self, name: str, visible: bool) -> None:
        self.name, self.visible = name, visible

    def on_fit_start(self, epochs: int, done: int) -> None:
        self.bar = progress_bar("epochs", self.visible)
        self.bar.start()
        self.task = self.bar.add_task(self.name, total=epochs, completed=done, losses="")

    def on_epoch_end(self, epoch: int, losses: dict[str, float]) -> None:
        shown = "  ".join(f"{k} {v:+.3f}" for k, v in losses.items())
        self.bar.update(self.task, advance=1, losses=shown)

    def on_fit_end(self, stopped_early: bool) -> None:
        if stopped_early:
            self.bar.update(self.task, description=f"{self.name} (early stop)")
        self.bar.stop()


class EpochFunction(Callback):
    """A plain ``on_epoch(epoch, losses)`` function (the ``fit`` argument) as a callback."""

    def __init__(self, function: Callable[[int, dict[str, float]], None]) -> None:
        self.function = function

    def on_epoch_end(self, epoch: int, losses: dict[str, float]) -> None:
        self.function(epoch, losses)


class Trainer:
    """The epoch loop of a PyTorch model, beside it rather than in it (Lightning's split): early
    stopping, checkpoints every ``checkpoint_every`` epochs with exact resume, and callbacks.

    The model brings the method through :class:`TorchTraining`'s hooks (``_train_epoch``,
    ``_monitor``, ``_modules``, ``_optimizers``, ``_end_of_epoch``, ``_resumed``,
    ``_checkpoint_extra``) and its hyper-parameters (``epochs``, ``patience``); the trainer owns the
    fit's options, which never change the model.

    Parameters
    ----------
    checkpoint_dir : Path or None
        Folder for ``checkpoint.pt`` (weights, optimizer states, RNG state, losses), written atomically
        every ``checkpoint_every`` epochs (0: never) and removed after a successful fit.
    checkpoint_every : int
        Epochs between checkpoints.
    resume : bool
        Continue from ``checkpoint_dir/checkpoint.pt`` when it exists; a resumed fit gives the same
        weights as an uninterrupted one (the RNG state is restored).
    callbacks : list of Callback
        Told of the fit's start, every epoch's losses (after its checkpoint) and the end.
    strategy : DPSGD or None
        How the steps differ from plain training: :class:`~simulacra.synthesizers.dp.sgd.DPSGD`
        (attached before the first epoch, detached after the last, its state in each checkpoint).
    """

    def __init__(
        self,
        checkpoint_dir: Path | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        strategy: Any = None,
    ) -> None:
        self.checkpoint_dir, self.checkpoint_every, self.resume = checkpoint_dir, checkpoint_every, resume
        self.callbacks = list(callbacks or [])
        self.strategy = strategy

    @property
    def checkpoint(self) -> Path | None:
        """The checkpoint file, or ``None`` without a checkpoint folder."""
        return self.checkpoint_dir / CHECKPOINT if self.checkpoint_dir is not None else None

    def fit(self, model: TorchTraining, data) -> None:
        """Train ``model`` for its planned epochs (``epochs``, or fewer where its ``_planned_epochs``
        caps them; inside its ``_seeded`` block, after ``_build``); sets ``history_`` and
        ``epochs_trained_``. ``data`` (the training data: an array or a
        :class:`~simulacra.synthesizers.batches.BatchSource`) ties checkpoints to their data.

        Raises
        ------
        ConfigError
            The checkpoint to resume was written for other data or other hyper-parameters.
        """
        history: list[dict[str, float]] = []
        start, best, stale = 0, math.inf, 0
        path = self.checkpoint
        fingerprint = _fingerprint(data) if path is not None else []
        if self.strategy is not None:
            self.strategy.attach(model, len(data))
        if path is not None and self.resume and path.is_file():
            start, history, best, stale = self._load(model, path, fingerprint)
            model._resumed(start)
            if self.strategy is not None:
                self.strategy.resumed(start)
        epochs = model._planned_epochs(len(data))
        for callback in self.callbacks:
            callback.on_fit_start(epochs, start)
        stopped = False
        try:
            for epoch in range(start, epochs):
                losses = model._train_epoch()
                history.append(losses)
                monitored = model._monitor(losses)
                # the first epoch always improves on "no epoch yet" (inf − 1e-3·inf is NaN, which no
                # loss is below: early stopping used to stop after `patience` epochs, whatever the loss)
                if not math.isfinite(best) or monitored < best - 1e-3 * max(1.0, abs(best)):
                    best, stale = monitored, 0
                else:
                    stale += 1
                model._end_of_epoch(epoch)
                if (
                    path is not None
                    and self.checkpoint_every > 0
                    and (epoch + 1) % self.checkpoint_every == 0
                ):
                    self._save(model, path, epoch + 1, history, best, stale, fingerprint)
                for callback in self.callbacks:
                    callback.on_epoch_end(epoch, losses)
                if model.patience is not None and stale >= int(model.patience):
                    stopped = True
                    break
        finally:
            for callback in self.callbacks:
                callback.on_fit_end(stopped)
        model.history_ = history
        model.epochs_trained_ = len(history)
        if path is not None and path.is_file():
            path.unlink()
            if path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()
        if self.strategy is not None:
            self.strategy.detach(model)

    def saved_extra(self) -> dict:
        """What the model's ``_checkpoint_extra`` saved in the checkpoint this fit will resume from
        (``{}`` without one, or when it cannot be read: :meth:`fit` reports that)."""
        path = self.checkpoint
        if path is None or not self.resume or not path.is_file():
            return {}
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            extra = payload.get("extra") if isinstance(payload, dict) else None
        except Exception:  # damaged: _load says so, with the fix
            return {}
        return extra if isinstance(extra, dict) else {}

    @staticmethod
    def _params(model: TorchTraining) -> dict:
        """The hyper-parameters a checkpoint must share with the fit resuming it."""
        return {k: v for k, v in model.get_params().items() if k not in model._training_only}  # type: ignore[attr-defined]

    def _save(
        self,
        model: TorchTraining,
        path: Path,
        epoch: int,
        history: list,
        best: float,
        stale: int,
        fingerprint: list[float],
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        device = model.device_
        payload = {
            "model": model.name,
            "params": self._params(model),
            "fingerprint": fingerprint,
            "epoch": epoch,
            "history": history,
            "best": best,
            "stale": stale,
            "modules": {k: m.state_dict() for k, m in model._modules().items()},
            "optimizers": {k: o.state_dict() for k, o in model._optimizers().items()},
            "extra": model._checkpoint_extra() | (self.strategy.checkpoint_extra() if self.strategy else {}),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def _load(
        self, model: TorchTraining, path: Path, fingerprint: list[float]
    ) -> tuple[int, list, float, int]:
        """Restore a checkpoint (an untrusted file: read with ``weights_only=True``, and any damage is
        one ConfigError that names the file, without torch's advice to load it unsafely)."""
        device = model.device_
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
            if not isinstance(payload, dict):
                raise ValueError("not a mapping")
        except Exception as exc:  # torch raises several types for damaged or hostile files
            raise ConfigError(
                f"{path}: not a readable simulacra checkpoint ({_first_sentence(exc)}); delete it or drop `resume`"
            ) from None
        params = self._params(model)
        saved = {k: list(v) if isinstance(v, tuple) else v for k, v in (payload.get("params") or {}).items()}
        if payload.get("model") != model.name or saved != {
            k: list(v) if isinstance(v, tuple) else v for k, v in params.items()
        }:
            raise ConfigError(
                f"{path}: checkpoint of other hyper-parameters; use the same `params` values or drop `resume`"
            )
        try:
            if not np.allclose(payload["fingerprint"], fingerprint, rtol=1e-6):
                raise ConfigError(f"{path}: checkpoint of other training data; delete it or drop `resume`")
            for k, m in model._modules().items():
                m.load_state_dict(payload["modules"][k])
            for k, o in model._optimizers().items():
                o.load_state_dict(payload["optimizers"][k])
            torch.set_rng_state(payload["rng"].cpu())
            if payload.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(payload["cuda_rng"].cpu(), device)
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
