"""The text synthesizer protocol and what the text models share.

``fit(texts: TextSet) -> self`` and ``sample(n, *, conditions=None, seed=None, temperature=1.0,
top_k=None, top_p=None) -> TextSet`` mirror the table and image synthesizers; the training loop,
progress with losses and ETA, checkpoints, ``--resume``, seeding and ``state_dict`` persistence are
:class:`~simulacra.synthesizers.training.TorchTraining`'s.

A labelled :class:`~simulacra.io.TextSet` makes the model class-conditional: every training text is
prefixed with its class (a label token, or a prompt for a pretrained model); sampling without conditions
is class-balanced (``n // K`` texts per class, as for images), ``conditions={"label": "spam"}`` gives one
class. A model fitted on unlabelled texts samples unconditionally.

Sampling controls (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"): the next-token
logits are divided by ``temperature`` τ (below 1: more typical text, less variety), then only the
``top_k`` most likely tokens are kept (0: all), then the smallest set whose probability reaches
``top_p`` (nucleus sampling; 1: all). The model's own ``top_k``/``top_p`` hyper-parameters are the
defaults; :meth:`sample` may override them per call.

Memorisation. A language model trained for a fixed number of epochs on a small corpus reproduces its
training texts (``textgpt`` at 40 epochs copied 9.3 % of its sentences from a corpus of 2,400 short
reviews, against 1.7 % for real held-out sentences). Two defences, both on by default:

* **Early stopping on held-out texts** (``validation``, a share of the training texts, stratified by
  label): after every epoch the next-token loss on those texts is measured, training stops after
  ``patience`` epochs without a 0.1 % fall, and the model keeps the weights of the best epoch
  (``best_epoch_``), the point where it generalises best (Prechelt 1998, "Early Stopping — But
  When?").
* **The near-copies filter** (``sample(drop_copies=True)``): a generated text whose
  :func:`~simulacra.io.text.near_copy_key` (lower case, letters and digits, single spaces) equals a
  training text's is dropped and drawn again with the same label, so the class counts stay exact
  (``copies_dropped_`` counts them). The model stores the keys' SHA-256 digests (``copy_keys_``), never
  the texts; whoever holds a model folder can test a guessed text against them, as the weights already
  allow (share samples, not model folders).
"""

from __future__ import annotations

import math
import os
import re
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from simulacra.errors import ConditionError, ConfigError, DataError
from simulacra.io import TextSet
from simulacra.io.text import near_copy_key
from simulacra.synthesizers.base import BaseSynthesizer, ClassLabels
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.training import TorchTraining, resolve_device
from simulacra.validation import Integer, Real, check_value

#: texts generated per forward batch while sampling
SAMPLE_BATCH = 256
#: fewest texts held out for early stopping, and fewest left to train on; a smaller corpus trains on all
MIN_VALIDATION_TEXTS = 20
#: a sample call draws at most this many times ``n`` texts (plus 1,000) to replace copies
MAX_DRAWS_PER_TEXT = 20


def copy_keys(texts: list[str]) -> set[str]:
    """SHA-256 digests (hex, 32 characters) of the texts' :func:`~simulacra.io.text.near_copy_key`."""
    import hashlib

    return {hashlib.sha256(near_copy_key(t).encode("utf-8", "surrogatepass")).hexdigest()[:32] for t in texts}


#: control characters other than TAB and newline, removed from generated texts: an undertrained model
#: emits bytes such as U+001C, which CSV readers take for line breaks
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class TextSynthesizer(ClassLabels, TorchTraining, BaseSynthesizer):
    """Base of the text synthesizers (``textgpt``, ``hf-causal-lm``).

    Subclass hooks: ``_build(texts)`` (tokenizer, networks and optimizers, from the training
    :class:`TextSet`; also called with ``None`` by :meth:`_set_state` after the tokenizer is restored),
    ``_fit_epoch()``, ``_modules()``, ``_optimizers()``, ``_fingerprint_array()`` (an array tying
    checkpoints to their data), ``_generate(labels, temperature, top_k, top_p, generator) ->
    list[str]`` for ``labels`` ``(B,)`` class indices (or ``None``), ``_token_nll(texts) -> (nats,
    tokens)`` and ``_tokenizer_state()`` / ``_restore_tokenizer(state)``.

    Learned attributes: ``class_names_``, ``class_counts_``, ``history_`` (per-epoch mean losses, and
    the validation loss when texts are held out), ``epochs_trained_``, ``best_epoch_`` (whose weights
    the model keeps), ``copy_keys_`` (digests of the training texts, for the near-copies filter).
    """

    modality: ClassVar[str] = "text"
    batch_size = TorchTraining.batch_size.but(default=32, doc="texts per step")
    patience = TorchTraining.patience.but(
        doc="stop after this many epochs without a 0.1 % fall of the validation loss (of the training loss "
        "without validation texts; None: never)"
    )
    top_k = Hyper(
        0, Integer(ge=0, le=1_000_000), "sampling's default top-k (0: off); sample() may override it"
    )
    top_p = Hyper(
        1.0, Real(gt=0, le=1), "sampling's default nucleus share (1: off); sample() may override it"
    )
    validation = Hyper(
        0.1,
        Real(ge=0, le=0.5),
        "share of the training texts held out (stratified by label) to choose the epoch whose weights are "
        "kept, by their next-token loss (0: none, or fewer than 20 texts either side)",
    )
    conditional: ClassVar[bool] = True
    conditional_models: ClassVar[str] = "a model fitted on labelled texts"
    _fitted_attr: ClassVar[str] = "class_names_"
    supports_temperature = True

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        texts: TextSet,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> TextSynthesizer:
        """Learn the distribution of ``texts`` (of each class, when labelled), with the training options
        of :class:`~simulacra.synthesizers.training.Trainer`.

        Raises
        ------
        DataError
            Not a TextSet, or no non-empty text.
        ConfigError
            Bad hyper-parameters, or a checkpoint of other data or hyper-parameters.
        """
        self._validate_params()
        if not isinstance(texts, TextSet):
            raise DataError(f"{self.name} fits a TextSet (texts), got {type(texts).__name__}")
        if not any(t.strip() for t in texts.texts):
            raise DataError("cannot fit on texts that are all empty; give at least one non-empty text")
        self.device_ = resolve_device(self.device)
        labelled = texts.labels is not None
        self.class_names_ = list(texts.class_names) if labelled else []
        self.class_counts_ = texts.class_counts()
        self.copy_keys_ = copy_keys(texts.texts)
        train, self._valid = self._validation_split(texts)
        self._start_best()
        self._fit_trainer = self._trainer(checkpoint_dir, checkpoint_every, resume, on_epoch)
        try:
            with self._seeded(self.seed):
                self._build(train)
                self._fit_trainer.fit(self, self._fingerprint_array())
                self._restore_best()  # the weights of the epoch with the lowest validation loss
        finally:
            for k in ("_fit_trainer", "_valid", "_best", "_epoch"):
                self.__dict__.pop(k, None)
            self._release_training_data()
        return self

    def _validation_split(self, texts: TextSet) -> tuple[TextSet, TextSet | None]:
        """``(training part, validation part or None)``: ``validation`` of the texts (at least
        :data:`MIN_VALIDATION_TEXTS`, else none) held out, stratified by label, with the model's seed."""
        share = float(getattr(self, "validation", 0.0) or 0.0)
        held = round(share * len(texts))
        if share <= 0 or held < MIN_VALIDATION_TEXTS or len(texts) - held < MIN_VALIDATION_TEXTS:
            return texts, None
        counts = texts.class_counts()
        stratify = texts.labels is not None and min(counts or [0]) >= 2 and held >= len(counts)
        if stratify:
            return texts.split(held, seed=int(self.seed))
        order = np.random.default_rng(int(self.seed)).permutation(len(texts))
        return texts.subset(np.sort(order[held:])), texts.subset(np.sort(order[:held]))

    def _train_epoch(self) -> dict[str, float]:
        """One epoch of :meth:`_fit_epoch`, then the mean next-token loss on the validation texts
        (``validation``, nats per token), keeping the weights of the best epoch so far."""
        losses = self._fit_epoch()
        if self._valid is None:
            return losses
        with torch.inference_mode():
            for m in self._modules().values():
                m.eval()
            nats, tokens = self._token_nll(self._valid)
        losses["validation"] = nats / max(tokens, 1)
        self._keep_if_best(losses["validation"])
        return losses

    def _monitor(self, losses: dict[str, float]) -> float:
        """Early stopping watches the validation loss when texts are held out, else the training loss."""
        return losses.get("validation", losses["loss"])

    @abstractmethod
    def _fit_epoch(self) -> dict[str, float]:
        """One pass over the training texts; returns ``{"loss": mean nats per token}``."""

    def _release_training_data(self) -> None:
        """Hook: drop what only training needs."""

    @abstractmethod
    def _build(self, texts: TextSet | None) -> None: ...

    @abstractmethod
    def _fingerprint_array(self) -> np.ndarray: ...

    # ------------------------------------------------------------------ sample
    def sample(
        self,
        n: int,
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        progress: bool = False,
        drop_copies: bool = True,
    ) -> TextSet:
        """Generate ``n`` texts; the same ``seed`` gives the same texts.

        ``drop_copies`` (the default) draws again every text that copies a training text (the
        near-copies filter of the module docstring; ``copies_dropped_`` says how many were).

        ``conditions={"label": "spam"}`` (a class name or index) gives only that class; without it the
        classes are balanced. ``temperature`` (0 < τ ≤ 10), ``top_k`` (≥ 0, 0 = off) and ``top_p``
        (0 < p ≤ 1) are the sampling controls of the module docstring (``None``: the model's own).
        ``progress`` shows a Rich bar. Control characters other than TAB and newline are removed from
        the generated texts.

        Returns
        -------
        TextSet
            ``n`` texts, labelled with the fitted class names when the model is conditional.

        Raises
        ------
        NotFittedError, ConfigError (``n`` or a sampling control out of range; ``drop_copies`` with a
        model saved without the training texts' keys), ConditionError (a condition other than
        ``label``, an unknown class, any condition for an unlabelled model, or fewer than ``n`` texts
        that are no copies in :data:`MAX_DRAWS_PER_TEXT` draws per text).
        """
        self._check_fitted()
        n, seed = self._check_sample_args(n, seed)
        temperature = self._check_temperature(temperature)
        top_k = int(check_value(self.name, "top_k", self.top_k if top_k is None else top_k, Integer(ge=0)))
        top_p = float(
            check_value(self.name, "top_p", self.top_p if top_p is None else top_p, Real(gt=0, le=1))
        )
        rng = np.random.default_rng(np.random.SeedSequence(seed).generate_state(1)[0])
        labels = self._sample_labels(n, dict(conditions or {}), rng)
        seed = int(rng.integers(2**62)) if seed is None else int(seed)
        generator = torch.Generator(device=self.device_).manual_seed(seed)
        keys = getattr(self, "copy_keys_", None)
        if drop_copies and keys is None:
            raise ConfigError(
                f"{self.name}: this model folder holds no keys of its training texts (saved by an older "
                "version), so copies cannot be dropped; refit it, or sample with `keep_copies`"
            )
        texts: list[str | None] = [None] * n
        pending = np.arange(n)  # positions still to fill; a copy's position is drawn again
        drawn, self.copies_dropped_ = 0, 0
        from simulacra.synthesizers.training import progress_bar

        with self._seeded(seed), torch.inference_mode(), progress_bar("texts", progress) as bar:
            task = bar.add_task(f"{self.name} sampling", total=n, losses="")
            for m in self._modules().values():
                m.eval()
            while len(pending):
                if drawn >= MAX_DRAWS_PER_TEXT * n + 1000:
                    raise ConditionError(
                        f"{self.name}: {len(pending)} of {n} texts kept copying training texts in {drawn} "
                        "draws; raise the temperature, or sample with `keep_copies`"
                    )
                rejected = []
                for start in range(0, len(pending), SAMPLE_BATCH):
                    where = pending[start : start + SAMPLE_BATCH]
                    batch = labels[where] if labels is not None else None
                    made = self._generate(len(where), batch, temperature, top_k, top_p, generator)
                    drawn += len(where)
                    kept = 0
                    for i, t in zip(where, made, strict=True):
                        t = _CONTROL.sub("", t)
                        if drop_copies and copy_keys([t]) <= keys:
                            rejected.append(i)
                        else:
                            texts[i], kept = t, kept + 1
                    bar.update(task, advance=kept)
                self.copies_dropped_ += len(rejected)
                pending = np.asarray(rejected, dtype=np.int64)
        if labels is None:
            return TextSet(texts)
        return TextSet(texts, labels, list(self.class_names_))

    def _sample_labels(
        self, n: int, conditions: dict[str, Any], rng: np.random.Generator
    ) -> np.ndarray | None:
        if not self.class_names_:
            if conditions:
                raise ConditionError(
                    f"{self.name} was fitted on texts without labels; refit it on labelled texts "
                    "(`label_column`) to sample a chosen class"
                )
            return None
        return super()._sample_labels(n, conditions, rng)

    @abstractmethod
    def _generate(
        self,
        n: int,
        labels: np.ndarray | None,
        temperature: float,
        top_k: int,
        top_p: float,
        generator: torch.Generator,
        prefixes: list[str] | None = None,
    ) -> list[str]:
        """``n`` new texts for ``labels`` ``(n,)`` (or unconditional); with ``prefixes``, the
        continuation of each prefix (the new text only)."""

    def rewrite(
        self,
        texts: TextSet,
        *,
        keep: float = 0.5,
        seed: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> TextSet:
        """Rewrite each text in its own class: keep its first ``max(1, round(keep · words))`` words and
        let the model write the rest, prompted by the text's label (the unlabelled model: by the words
        alone). This is the paraphrasing a class-conditional language model offers (the LAMBADA idea of
        Anaby-Tavor et al. 2020 with a prefix): the start and the class stay, the wording of the rest is
        new, its meaning is the model's.

        Returns
        -------
        TextSet
            As many texts, with the labels of ``texts``.

        Raises
        ------
        ConfigError
            ``keep`` outside (0, 1], or a sampling control out of range.
        ConditionError
            A text of a class the model was not fitted on.
        """
        self._check_fitted()
        keep = float(check_value(self.name, "keep", keep, Real(gt=0, le=1)))
        _, seed = self._check_sample_args(len(texts), seed)
        temperature = self._check_temperature(temperature)
        top_k = int(check_value(self.name, "top_k", self.top_k if top_k is None else top_k, Integer(ge=0)))
        top_p = float(
            check_value(self.name, "top_p", self.top_p if top_p is None else top_p, Real(gt=0, le=1))
        )
        labels = None
        if self.class_names_ and texts.labels is not None:
            labels = np.asarray(
                [self.class_index(texts.class_names[int(i)]) for i in texts.labels], dtype=np.int64
            )
        heads = []
        for t in texts.texts:
            words = t.split()
            heads.append(" ".join(words[: max(1, round(keep * len(words)))]))
        seed = int(np.random.default_rng(seed).integers(2**62)) if seed is None else int(seed)
        generator = torch.Generator(device=self.device_).manual_seed(seed)
        out: list[str] = []
        with self._seeded(seed), torch.inference_mode():
            for m in self._modules().values():
                m.eval()
            for start in range(0, len(texts), SAMPLE_BATCH):
                stop = min(len(texts), start + SAMPLE_BATCH)
                batch = labels[start:stop] if labels is not None else None
                tails = self._generate(
                    stop - start, batch, temperature, top_k, top_p, generator, prefixes=heads[start:stop]
                )
                out += [
                    _CONTROL.sub("", h + t).strip() for h, t in zip(heads[start:stop], tails, strict=True)
                ]
        return TextSet(out, texts.labels, list(texts.class_names))

    def _bytes_per_row(self) -> float:
        return 4096.0  # a text and its token ids, generously

    # ------------------------------------------------------------------ likelihood
    def perplexity(self, texts: TextSet) -> dict[str, float]:
        """The model's likelihood of ``texts`` (each under its own class prompt when labelled): the
        per-token perplexity ``exp(nats / tokens)`` (comparable only between models of one tokenizer)
        and bits per character ``nats / ln 2 / characters`` (comparable across tokenizers).

        Returns
        -------
        dict
            ``{"perplexity": float, "bits_per_char": float, "tokens": int}``.
        """
        self._check_fitted()
        with self._seeded(int(self.seed)), torch.inference_mode():
            for m in self._modules().values():
                m.eval()
            nats, tokens = self._token_nll(texts)
        chars = max(1, sum(len(t) for t in texts.texts))
        return {
            "perplexity": float(math.exp(nats / max(tokens, 1))),
            "bits_per_char": float(nats / math.log(2) / chars),
            "tokens": int(tokens),
        }

    @abstractmethod
    def _token_nll(self, texts: TextSet) -> tuple[float, int]: ...

    def _label_of(self, texts: TextSet, i: int) -> int | None:
        """Text ``i``'s class index in this model's classes (``None`` without labels)."""
        if texts.labels is None or not self.class_names_:
            return None
        name = texts.class_names[int(texts.labels[i])]
        return self.class_names_.index(name) if name in self.class_names_ else None

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "class_names": self.class_names_,
            "class_counts": self.class_counts_,
            "history": self.history_,
            "epochs_trained": self.epochs_trained_,
            "best_epoch": self.best_epoch_,
            "tokenizer": self._tokenizer_state(),
            "copy_keys": sorted(self.copy_keys_),
        }
        return state, {}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.device_ = resolve_device(self.device)
        self.class_names_ = [str(c) for c in state["class_names"]]
        self.class_counts_ = [int(c) for c in state["class_counts"]]
        self.history_ = state["history"]
        self.epochs_trained_ = int(state["epochs_trained"])
        self.best_epoch_ = int(state.get("best_epoch", self.epochs_trained_))
        keys = state.get("copy_keys")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) and len(k) == 32 for k in keys)
        ):
            raise ValueError("state.json: copy_keys must be a list of 32-character digests")
        self.copy_keys_ = set(keys) if keys is not None else None
        self._restore_tokenizer(state["tokenizer"])
        self._build(None)

    @abstractmethod
    def _tokenizer_state(self) -> Any: ...

    @abstractmethod
    def _restore_tokenizer(self, state: Any) -> None: ...


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Top-k then nucleus (top-p) filtering of ``(B, V)`` logits (Holtzman et al. 2020): tokens outside
    are set to −∞; the most likely token always stays."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) >= top_p  # the mass before a token already reaches p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return logits
