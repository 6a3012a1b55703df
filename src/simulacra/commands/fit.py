"""``fit``: fit a synthesizer to a table, an image set or labelled texts and save it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulacra.commands.base import FitInterrupted
from simulacra.errors import ConfigError
from simulacra.modalities import FitData, Status, named, of_source
from simulacra.requests import PII_MODES, FitRequest, loader_options


@dataclass
class FitResult:
    """What :func:`fit` did: the fitted model (saved at ``output``), the data it read, the seconds
    the fit took, and ``advice``: one line naming the model that suits a table better than the one
    fitted (:mod:`simulacra.synthesizers.advice`; ``None`` when the fitted one is it, for a
    differentially private model, and off tables)."""

    model: Any
    output: Path
    data: FitData
    seconds: float
    advice: str | None = None


@contextmanager
def _epoch_callbacks(on_epoch: Any, log_dir: Path | None, tag: str) -> Iterator[Any]:
    """The one ``on_epoch(epoch, losses)`` a fit gets: the caller's (progress) and, with ``log_dir``,
    a TensorBoard logger, closed when the fit ends however it ends."""
    callbacks = [on_epoch] if on_epoch is not None else []
    logger = None
    if log_dir is not None:
        from simulacra.synthesizers.tensorboard import TensorBoardLogger

        logger = TensorBoardLogger(log_dir, tag)
        callbacks.append(logger)

    def each(epoch: int, losses: dict[str, float]) -> None:
        for callback in callbacks:
            callback(epoch, losses)

    try:
        yield each if callbacks else None
    finally:
        if logger is not None:
            logger.close()


def fit(request: FitRequest, status: Status | None = None, *, on_epoch: Any = None) -> FitResult:
    """Fit ``request.model`` (or the source modality's default) to ``request.source`` and save it.

    Every option and hyper-parameter is checked, and the output claimed, before any data is read.
    The model's modality (:func:`simulacra.modalities.named`) reads the data; a model that trains in
    epochs gets checkpoints, resume and ``on_epoch``.

    Raises
    ------
    ConfigError
        An unknown model or hyper-parameter, a bad option, or an option that does not apply to the
        model.
    OutputExistsError
        The model folder exists (without ``force``), or is one of the inputs.
    DataError
        Unreadable data, or data of another modality than the model's.
    FitInterrupted
        Ctrl-C or SIGTERM during training; nothing was written.
    """
    from simulacra.io import check_not_input, claim, output_lock
    from simulacra.synthesizers import make
    from simulacra.synthesizers.base import BATCH_SOURCES
    from simulacra.workflow import check_sources, fit_model, pii_key

    check_sources(request.source)  # a missing input is refused before any work

    status = status or Status()
    r = request
    if r.pii not in PII_MODES:
        raise ConfigError(f"`pii` {r.pii!r}: use 'fake' (fresh values) or 'pseudonymize' (keyed hash)")
    key = pii_key(r.pii_key_file)
    if r.pii == "pseudonymize" and key is None:
        raise ConfigError("`pii` pseudonymize needs a secret key: `pii_key_file` FILE or SIMULACRA_PII_KEY")
    name = r.model or of_source(r.source, **loader_options(r)).model_for(r.source, **loader_options(r))
    synth = make(name, **r.params)  # every parameter checked before any data is read
    if (r.all_rows or r.batch_source is not None) and not synth.streams_training_rows:
        flag = "`all_rows`" if r.all_rows else "`batch_source`"
        raise ConfigError(
            f"{flag} is for the neural table models (ctgan, tvae, diffusion), not {name}; drop it or pick one of those"
        )
    if r.batch_source is not None and r.batch_source not in BATCH_SOURCES:
        raise ConfigError(f"`batch_source` {r.batch_source!r}: use one of {', '.join(BATCH_SOURCES)}")
    if r.log_dir is not None and not synth.trains_in_epochs:
        raise ConfigError(
            f"`log_dir` logs the epochs of a neural model, and {name} does not train in epochs; drop it"
        )
    if r.log_dir is not None and r.log_dir.exists() and not r.log_dir.is_dir():
        raise ConfigError(f"`log_dir` {str(r.log_dir)!r} is a file; give a folder for the event files")
    check_not_input(r.output, r.source, r.metadata, r.pii_key_file, r.parent_table)
    if r.log_dir is not None:
        check_not_input(r.log_dir, r.source, r.metadata, r.pii_key_file, r.parent_table, flag="`log_dir`")
        for written in (r.output, r.checkpoints):  # the event files must not land in what fit writes
            a, b = r.log_dir.resolve(), written.resolve()
            if a == b or b in a.parents or a in b.parents:
                raise ConfigError(
                    f"`log_dir` {str(r.log_dir)!r} is (or holds, or is inside) {str(written)!r}, which fit writes; "
                    "give a folder of its own"
                )
    claim(r.output, force=r.force, kind="dir")  # and the output, before any training
    with output_lock(r.output):
        data = named(synth.modality).fit_data(r, synth, status)
        start = time.perf_counter()
        if synth.trains_in_epochs:
            from simulacra.synthesizers.training import CHECKPOINT  # torch: only for a model that has it

            if r.resume and not (r.checkpoints / CHECKPOINT).is_file():
                status.note(f"no checkpoint in {r.checkpoints}; starting from epoch 0")
            try:
                with _epoch_callbacks(on_epoch, r.log_dir, name) as each_epoch:
                    fit_model(
                        synth,
                        *data.args,
                        checkpoint_dir=r.checkpoints,
                        checkpoint_every=r.checkpoint_every,
                        resume=r.resume,
                        on_epoch=each_epoch,
                        pii=r.pii,
                        pii_key=key,
                        batches=data.batches,
                    )
            except KeyboardInterrupt as stop:
                saved = (r.checkpoints / CHECKPOINT).is_file()
                raise FitInterrupted(r.checkpoints if saved else None) from stop
        else:
            with status.busy(f"fitting {name} on {data.size}"):
                fit_model(synth, *data.args, pii=r.pii, pii_key=key)
        seconds = time.perf_counter() - start
        synth.save(r.output, force=r.force)
    return FitResult(synth, r.output, data, seconds, named(synth.modality).advice(synth, data))
