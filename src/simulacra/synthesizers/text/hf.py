"""``hf-causal-lm``: fine-tune a pretrained causal language model (any Hugging Face ``transformers``
``AutoModelForCausalLM``: GPT-2, Llama, Qwen, SmolLM, …) on the training texts, the label as a prompt.

References
----------
* Radford et al. (2019), GPT-2, and Wolf et al. (2020), "Transformers: State-of-the-Art Natural Language
  Processing" (the library).
* Anaby-Tavor et al. (2020), "Do Not Have Enough Data? Deep Learning to the Rescue!" (LAMBADA):
  fine-tune a pretrained language model on ``label SEP text`` sequences, then generate from the label
  to enlarge a classification training set; Kumar et al. (2020), "Data Augmentation using Pre-trained
  Transformer Models", the same with the label as a plain-text prefix, as here.

Method
------
Each training text ``x`` of class ``c`` is the sequence ``"c: " + x + ⟨eos⟩``; the loss is the language
model's next-token cross-entropy over the tokens of ``x`` and ``⟨eos⟩`` only (the prompt is given, not
learned). AdamW at ``learning_rate`` (5e-5) with gradient clipping at 1, ``epochs`` passes. Sampling
prompts ``"c: "`` and calls ``generate`` with ``do_sample=True`` and the temperature / top-k / top-p
controls, up to ``block_size`` new tokens, one batch per class (so no prompt needs padding).

Hyper-parameter ``model`` is a local folder (``save_pretrained`` output) or a hub name; with
``local_files_only=True`` nothing is downloaded. The fitted model is saved without pickle: the
network's ``state_dict`` (``weights.pt``, read with ``weights_only=True``), its config and its fast
tokenizer as JSON in ``state.json`` — a saved simulacra model loads offline.

Where this differs from the references
--------------------------------------
LAMBADA also filters the generated texts with a classifier trained on the real data; here that is the
``label_agreement`` metric, reported rather than applied.

Needs the optional extra: ``pip install 'simulacra[transformers]'``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from simulacra.errors import ConfigError, DataError
from simulacra.io import TextSet
from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.text.base import TextSynthesizer
from simulacra.validation import Boolean, Integer, Real, Text


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError(
            "hf-causal-lm needs Hugging Face transformers: pip install 'simulacra[transformers]'"
        ) from None
    transformers.logging.set_verbosity_error()
    return transformers


@register
class HFCausalLM(TextSynthesizer):
    """Fine-tunes a pretrained causal language model with the label as a prompt (module docstring)."""

    name: ClassVar[str] = "hf-causal-lm"
    epochs = TextSynthesizer.epochs.but(default=3, doc="passes over the training texts")
    batch_size = TextSynthesizer.batch_size.but(default=8)
    seed = TextSynthesizer.seed.but(doc="seeds batches, dropout and (by default) sampling")
    model = Hyper(
        "",
        Text(),
        'a local model folder or a hub name (e.g. "gpt2", downloaded on first use unless local_files_only); '
        "required: there is no default, so nothing is downloaded unless asked for",
    )
    local_files_only = Hyper(
        False, Boolean(), "never download (the folder or the local cache must hold the model)"
    )
    learning_rate = Hyper(5e-5, Real(gt=0, le=1), "AdamW learning rate; weight decay 0.01")
    block_size = Hyper(
        128, Integer(ge=8, le=32_768), "longest text in tokens, for training and for generation"
    )

    # ------------------------------------------------------------------ tokenizer and network
    def _prompt(self, label: int | None) -> str:
        return "" if label is None else f"{self.class_names_[label]}: "

    def _check_params(self) -> None:
        if not str(self.model).strip():
            raise ConfigError(
                "hf-causal-lm needs the language model to fine-tune: `params` model=PATH_OR_HUB_NAME "
                "(a local folder, or a hub name such as gpt2)"
            )

    def _build(self, texts: TextSet | None) -> None:
        tf = _transformers()
        if texts is not None:
            try:
                self.tokenizer_ = tf.AutoTokenizer.from_pretrained(
                    self.model, local_files_only=self.local_files_only
                )
                self.lm_ = tf.AutoModelForCausalLM.from_pretrained(
                    self.model, local_files_only=self.local_files_only
                )
            except (OSError, ValueError) as exc:
                first = " ".join(str(exc).split())[:200]
                raise ConfigError(
                    f"hf-causal-lm: cannot load model {self.model!r} ({first}); give a local folder or a hub "
                    "name with `params` model=…"
                ) from None
            if not getattr(self.tokenizer_, "is_fast", False):
                raise ConfigError(
                    f"hf-causal-lm: {self.model!r} has no fast tokenizer; use a model that has one"
                )
            self.lm_config_ = self.lm_.config.to_dict()
        else:
            config = tf.AutoConfig.for_model(**self.lm_config_)
            self.lm_ = tf.AutoModelForCausalLM.from_config(config)
        if self.tokenizer_.pad_token is None:
            self.tokenizer_.pad_token = self.tokenizer_.eos_token
        if self.tokenizer_.eos_token is None:
            raise DataError(
                f"hf-causal-lm: {self.model!r} has no end-of-text token; use a causal LM that has one"
            )
        self.lm_.to(self.device_)
        if texts is None:
            return
        self._seqs = self._encode(texts)
        self.optimizer_ = torch.optim.AdamW(
            self.lm_.parameters(), lr=float(self.learning_rate), weight_decay=0.01
        )

    def _encode(self, texts: TextSet) -> list[tuple[np.ndarray, int]]:
        """Each text as (ids of ``prompt + text + eos``, prompt length), cut to ``block_size`` text tokens."""
        out = []
        eos = self.tokenizer_.eos_token_id
        for i, text in enumerate(texts.texts):
            prompt = self.tokenizer_(self._prompt(self._label_of(texts, i)), add_special_tokens=False)[
                "input_ids"
            ]
            body = self.tokenizer_(text, add_special_tokens=False)["input_ids"][: int(self.block_size) - 1]
            out.append((np.asarray([*prompt, *body, eos], dtype=np.int64), len(prompt)))
        return out

    def _modules(self) -> dict[str, nn.Module]:
        return {"lm": self.lm_}

    def _optimizers(self) -> dict[str, Any]:
        return {"adamw": self.optimizer_}

    def _fingerprint_array(self) -> np.ndarray:
        return np.concatenate([s for s, _ in self._seqs]).astype(np.float64).reshape(-1, 1)

    def _release_training_data(self) -> None:
        for attr in ("_seqs", "optimizer_"):
            self.__dict__.pop(attr, None)

    def _batch(self, items: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``labels`` ``(B, T)``; labels −100 on prompts and padding."""
        t = max(len(s) for s, _ in items)
        ids = np.full((len(items), t), self.tokenizer_.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(items), t), dtype=np.int64)
        labels = np.full((len(items), t), -100, dtype=np.int64)
        for i, (s, p) in enumerate(items):
            ids[i, : len(s)], mask[i, : len(s)] = s, 1
            labels[i, p : len(s)] = s[p:]
        return tuple(torch.from_numpy(a).to(self.device_) for a in (ids, mask, labels))  # type: ignore[return-value]

    def _fit_epoch(self) -> dict[str, float]:
        self.lm_.train()
        size = int(self.batch_size)
        order = torch.randperm(len(self._seqs)).tolist()
        total, tokens = 0.0, 0
        for start in range(0, len(order), size):
            ids, mask, labels = self._batch([self._seqs[i] for i in order[start : start + size]])
            loss = self.lm_(input_ids=ids, attention_mask=mask, labels=labels).loss
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.lm_.parameters(), 1.0)
            self.optimizer_.step()
            count = int((labels[:, 1:] != -100).sum())
            total, tokens = total + float(loss.detach()) * count, tokens + count
        return {"loss": total / max(tokens, 1)}

    # ------------------------------------------------------------------ sampling and likelihood
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
        # one generate() call per (class, prompt length): no prompt needs padding
        starts = []
        for i in range(n):
            label = None if labels is None else int(labels[i])
            ids = self.tokenizer_(self._prompt(label), add_special_tokens=False)["input_ids"]
            if prefixes is not None:
                ids = (
                    ids
                    + self.tokenizer_(prefixes[i], add_special_tokens=False)["input_ids"][
                        : int(self.block_size) // 2
                    ]
                )
            if not ids:
                bos = self.tokenizer_.bos_token_id
                ids = [bos if bos is not None else self.tokenizer_.eos_token_id]
            starts.append(tuple(ids))
        out: list[str] = [""] * n
        groups: dict[int, list[int]] = {}
        for i, ids in enumerate(starts):
            groups.setdefault(len(ids), []).append(i)
        for length, where in groups.items():
            x = torch.tensor([starts[i] for i in where], device=self.device_)
            generated = self.lm_.generate(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                do_sample=True,
                temperature=float(temperature),
                top_k=int(top_k),
                top_p=float(top_p),
                max_new_tokens=int(self.block_size),
                pad_token_id=self.tokenizer_.pad_token_id,
                eos_token_id=self.tokenizer_.eos_token_id,
            )
            texts = self.tokenizer_.batch_decode(generated[:, length:], skip_special_tokens=True)
            for i, t in zip(where, texts, strict=True):
                out[i] = t if prefixes is not None else t.strip()
        return out

    def _token_nll(self, texts: TextSet) -> tuple[float, int]:
        seqs = self._encode(texts)
        nats, tokens = 0.0, 0
        for start in range(0, len(seqs), 32):
            ids, mask, labels = self._batch(seqs[start : start + 32])
            logits = self.lm_(input_ids=ids, attention_mask=mask).logits[:, :-1]
            target = labels[:, 1:]
            nats += float(
                nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum"
                )
            )
            tokens += int((target != -100).sum())
        return nats, tokens

    # ------------------------------------------------------------------ persistence
    def _tokenizer_state(self) -> Any:
        special = {
            k: getattr(self.tokenizer_, k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")
        }
        return {
            "tokenizer": self.tokenizer_.backend_tokenizer.to_str(),
            "special": special,
            "config": json.loads(json.dumps(self.lm_config_, default=str)),
        }

    def _restore_tokenizer(self, state: Any) -> None:
        from tokenizers import Tokenizer

        tf = _transformers()
        if not isinstance(state, dict) or not isinstance(state.get("tokenizer"), str):
            raise ValueError("state.json: tokenizer must hold the tokenizer's JSON text")
        special = {k: v for k, v in dict(state.get("special") or {}).items() if isinstance(v, str)}
        self.tokenizer_ = tf.PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_str(state["tokenizer"]), **special
        )
        self.lm_config_ = dict(state["config"])
