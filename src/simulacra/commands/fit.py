"""``fit``: fit a synthesizer to a table, an image set or labelled texts and save it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from simulacra.commands.base import FitInterrupted, Request
from simulacra.errors import ConfigError
from simulacra.modalities import FitData, Status, named, of_source
from simulacra.modalities.base import FitOptions

#: what ``pii`` accepts: fresh Faker values, or keyed-hash pseudonyms (with a secret key)
PII_MODES = ("fake", "pseudonymize")


class FitRequest(Request):
    """The inputs of :func:`fit`.

    Attributes
    ----------
    source : str
        Training data: a bundled name, a table file, an SQL URL, images (``.npz``, IDX, class
        folders) or texts.
    output : Path
        The model folder to write.
    model : str or None
        A registry name; ``None`` takes the default model of the source's modality.
    params : dict
        Hyper-parameters, checked by the model before any data is read.
    metadata : Path or None
        Tables: metadata overrides (JSON/YAML).
    text_column, label_column : str or None
        Texts in a table: the columns holding the texts and their labels.
    checkpoint_every : int
        Neural models: a checkpoint every this many epochs (0: never).
    resume : bool
        Neural models: continue from the checkpoint of an interrupted fit.
    max_rows : int
        Tables: a larger table is fitted on a stratified sample of this many rows, in [100, 10¹⁰].
    stratify : str or None
        Tables over ``max_rows``: the column whose shares the sample keeps.
    all_rows : bool
        Neural table models over ``max_rows``: train on every row, streamed from disk.
    batch_source : str or None
        Neural table models: ``memory``, ``disk`` or ``auto``.
    pii : str
        Tables: personal-identifier columns become ``fake`` values or keyed-hash ``pseudonymize``
        pseudonyms.
    pii_key_file : Path or None
        The secret key for ``pseudonymize`` (or the ``SIMULACRA_PII_KEY`` environment variable).
    force : bool
        Replace an existing model folder written by simulacra.
    """

    command: str = "fit"
    source: str
    output: Path
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: Path | None = None
    text_column: str | None = None
    label_column: str | None = None
    checkpoint_every: int = Field(10, ge=0)
    resume: bool = False
    max_rows: int = Field(1_000_000, ge=100, le=10**10)
    stratify: str | None = None
    all_rows: bool = False
    batch_source: str | None = None
    pii: str = "fake"
    pii_key_file: Path | None = None
    force: bool = False

    @property
    def checkpoints(self) -> Path:
        """Where a neural model's checkpoints go: ``OUTPUT.checkpoint`` beside the model folder."""
        return self.output.with_name(self.output.name + ".checkpoint")


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
    from simulacra.synthesizers.training import CHECKPOINT
    from simulacra.workflow import fit_model, pii_key

    status = status or Status()
    r = request
    if r.pii not in PII_MODES:
        raise ConfigError(f"--pii {r.pii!r}: use 'fake' (fresh values) or 'pseudonymize' (keyed hash)")
    key = pii_key(r.pii_key_file)
    if r.pii == "pseudonymize" and key is None:
        raise ConfigError("--pii pseudonymize needs a secret key: --pii-key-file FILE or SIMULACRA_PII_KEY")
    name = r.model or of_source(r.source, text_column=r.text_column).default_model
    synth = make(name, **r.params)  # every parameter checked before any data is read
    if (r.all_rows or r.batch_source is not None) and not synth.streams_training_rows:
        flag = "--all-rows" if r.all_rows else "--batch-source"
        raise ConfigError(
            f"{flag} is for the neural table models (ctgan, tvae, diffusion), not {name}; drop it or pick one of those"
        )
    if r.batch_source is not None and r.batch_source not in BATCH_SOURCES:
        raise ConfigError(f"--batch-source {r.batch_source!r}: use one of {', '.join(BATCH_SOURCES)}")
    check_not_input(r.output, r.source, r.metadata, r.pii_key_file)
    claim(r.output, force=r.force, kind="dir")  # and the output, before any training
    options = FitOptions(
        metadata=None if r.metadata is None else str(r.metadata),
        max_rows=r.max_rows,
        stratify=r.stratify,
        all_rows=r.all_rows,
        batch_source=r.batch_source,
        text_column=r.text_column,
        label_column=r.label_column,
    )
    with output_lock(r.output):
        data = named(synth.modality).fit_data(r.source, synth, options, status)
        start = time.perf_counter()
        if synth.trains_in_epochs:
            if r.resume and not (r.checkpoints / CHECKPOINT).is_file():
                status.note(f"no checkpoint in {r.checkpoints}; starting from epoch 0")
            try:
                fit_model(
                    synth,
                    *data.args,
                    checkpoint_dir=r.checkpoints,
                    checkpoint_every=r.checkpoint_every,
                    resume=r.resume,
                    on_epoch=on_epoch,
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
    return FitResult(synth, r.output, data, seconds, _advice(synth, data))


def _advice(model: Any, data: FitData) -> str | None:
    """The advice line when a table model other than the suggested one was fitted (never for a DP
    model, whose choice is about privacy)."""
    if model.modality != "table" or model.differentially_private:
        return None
    from simulacra.synthesizers.advice import advise

    advice = advise(data.data, data.metadata)
    return advice.line() if advice.model != model.name else None
