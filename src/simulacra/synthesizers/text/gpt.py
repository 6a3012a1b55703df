"""``textgpt``: a small decoder-only transformer trained from scratch, class-conditional by a label token.

References
----------
* Radford et al. (2019), "Language Models are Unsupervised Multitask Learners" (GPT-2): a decoder-only
  transformer with pre-layer-norm blocks, learned position embeddings, GELU MLPs of width 4·d, weights
  ~ N(0, 0.02) with residual projections scaled by 1/√(2·layers), input and output embeddings tied.
* Karpathy's nanoGPT (2022), the compact form of the same model this file follows: AdamW with weight
  decay on matrices only, linear warm-up then cosine decay of the learning rate, gradient clipping at 1.
* Sennrich, Haddow & Birch (2016), byte-pair encoding, here byte-level (GPT-2's): the vocabulary is
  trained on the training corpus with Hugging Face ``tokenizers``, so any UTF-8 text round-trips.
* Keskar et al. (2019), "CTRL": conditioning a language model on a control code prepended to the text;
  here one label token per class.
* Holtzman et al. (2020): temperature, top-k and nucleus sampling (:func:`.base.filter_logits`).

Method
------
Each training text ``x`` of class ``c`` becomes the token sequence ``[⟨c⟩, t₁ … t_L, ⟨eos⟩]`` (``⟨bos⟩``
in place of ``⟨c⟩`` for unlabelled texts), cut to ``block_size + 1`` tokens. The network models
``p(t_{i+1} | t_{≤i})`` and is trained by next-token cross-entropy over the non-padding positions.
Sampling starts from ``⟨c⟩`` and draws tokens until ``⟨eos⟩`` or ``block_size`` tokens, reusing each
layer's keys and values (a KV cache), so a step costs one token's forward pass.

Shapes: token ids ``(B, T)`` int64 → embeddings ``(B, T, d)`` → ``n_layer`` blocks → logits ``(B, T, V)``
with ``V = BPE vocabulary + 3 + K`` (pad, eos, bos, one token per class).

Where this differs from the papers
----------------------------------
* The special tokens are ids after the BPE vocabulary, not strings the tokenizer knows: a text that
  contains ``"<|eos|>"`` is encoded as ordinary bytes and cannot forge a label or end a sequence.
* Batches are texts of similar length (sorted within shuffled pools of 50 batches) padded to the
  longest, instead of nanoGPT's fixed windows over one concatenated stream: every text starts at
  position 0 behind its label token, as in sampling.
* Sizes are for short texts on a laptop CPU (4 layers, 4 heads, d = 128, 2,048-token vocabulary, 128
  tokens of context; measured times in docs/text.md).
* nanoGPT trains for a fixed number of iterations; here ``epochs`` (40) is a ceiling: 10 % of the
  texts are held out, training stops after ``patience`` (3) epochs without a better loss on them and
  keeps the best epoch's weights (:class:`~.base.TextSynthesizer`), since a fixed 40 epochs made the
  model reproduce its training texts (3.4 % of SMS samples, 9.3 % on a corpus of 2,400 reviews).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulacra.io import TextSet
from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.text.base import TextSynthesizer, filter_logits
from simulacra.validation import Integer, Real

PAD, EOS, BOS = 0, 1, 2  # offsets of the special ids after the BPE vocabulary
SPECIALS = 3
#: texts per pool sorted by length before it is cut into batches
POOL_BATCHES = 50


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention ``(B, T, d) → (B, T, d)``, with an optional KV cache."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in self.qkv(x).split(d, 2))
        # q, k, v: (B, heads, T, d / heads)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=cache is None and t > 1, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))`` with a 4·d GELU MLP."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache=None):
        a, cache = self.attn(self.ln1(x), cache)
        x = x + self.drop(a)
        return x + self.mlp(self.ln2(x)), cache


class GPT(nn.Module):
    """Token ids ``(B, T)`` (positions from ``offset``) → logits ``(B, T, V)`` and the layers' KV caches."""

    def __init__(self, vocab: int, block: int, layers: int, heads: int, d: int, dropout: float) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block + 1, d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.wte.weight  # tied input/output embeddings (GPT-2)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor, caches: list | None = None, offset: int = 0):
        t = idx.shape[1]
        pos = torch.arange(offset, offset + t, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, d)
        new = []
        for i, block in enumerate(self.blocks):
            x, c = block(x, None if caches is None else caches[i])
            new.append(c)
        return self.head(self.ln_f(x)), new


@register
class TextGPT(TextSynthesizer):
    """A small GPT trained from scratch on the corpus (see the module docstring)."""

    name: ClassVar[str] = "textgpt"
    epochs = TextSynthesizer.epochs.but(default=40, doc="passes over the training texts")
    patience = TextSynthesizer.patience.but(default=3)
    vocab_size = Hyper(
        2048,
        Integer(ge=260, le=65_536),
        "byte-level BPE vocabulary trained on the training texts (the special and label tokens come on top)",
    )
    block_size = Hyper(
        128, Integer(ge=8, le=4096), "context in tokens; a longer text is cut, and samples stop there"
    )
    n_layer = Hyper(4, Integer(ge=1, le=48), "transformer blocks")
    n_head = Hyper(4, Integer(ge=1, le=64), "attention heads per block")
    n_embd = Hyper(128, Integer(ge=8, le=4096), "the transformer's width")
    dropout = Hyper(0.1, Real(ge=0, lt=1), "dropout on embeddings, attention and MLP outputs")
    learning_rate = Hyper(
        1e-3,
        Real(gt=0, le=1),
        "AdamW peak learning rate, after warmup_steps of linear warm-up and then a cosine decay to a tenth "
        "of it over the remaining steps; betas (0.9, 0.99)",
    )
    weight_decay = Hyper(
        0.1, Real(ge=0, le=10), "AdamW decay on weight matrices and embeddings, not on biases and norms"
    )
    warmup_steps = Hyper(100, Integer(ge=0, le=1_000_000), "steps of linear learning-rate warm-up")

    def _check_params(self) -> None:
        from simulacra.errors import ConfigError

        if self.n_embd % self.n_head:
            raise ConfigError(
                f"textgpt: n_embd={self.n_embd} is not a multiple of n_head={self.n_head}; "
                "make the width divisible by the heads"
            )

    # ------------------------------------------------------------------ tokenizer
    def _train_tokenizer(self, texts: list[str]) -> None:
        """Byte-level BPE of ``vocab_size − 3 − K`` tokens learned from ``texts`` (GPT-2's pre-tokenizer)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=max(256, int(self.vocab_size) - SPECIALS - len(self.class_names_)),
            min_frequency=2,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer)
        self.tokenizer_ = tok

    def _tokenizer_state(self) -> Any:
        return self.tokenizer_.to_str()

    def _restore_tokenizer(self, state: Any) -> None:
        from tokenizers import Tokenizer

        if not isinstance(state, str):
            raise ValueError("state.json: tokenizer must be the tokenizer's JSON text")
        self.tokenizer_ = Tokenizer.from_str(state)

    @property
    def _base(self) -> int:
        """The first special id: the BPE vocabulary's size."""
        return self.tokenizer_.get_vocab_size()

    def _start_ids(self, labels: np.ndarray | None, n: int) -> torch.Tensor:
        """``(n, 1)`` first tokens: the label tokens, or ``⟨bos⟩``."""
        if labels is None:
            return torch.full((n, 1), self._base + BOS, dtype=torch.long, device=self.device_)
        return (torch.as_tensor(labels, device=self.device_) + self._base + SPECIALS).view(-1, 1)

    def _encode(self, texts: TextSet) -> list[np.ndarray]:
        """Each text as ``[start, t₁ … t_L, eos]`` int64 ids, cut to ``block_size + 1``."""
        ids = [e.ids for e in self.tokenizer_.encode_batch(texts.texts)]
        out = []
        for i, seq in enumerate(ids):
            label = self._label_of(texts, i)
            start = self._base + (BOS if label is None else SPECIALS + label)
            out.append(
                np.asarray([start, *seq, self._base + EOS], dtype=np.int64)[: int(self.block_size) + 1]
            )
        return out

    # ------------------------------------------------------------------ networks
    def _build(self, texts: TextSet | None) -> None:
        if texts is not None:
            self._train_tokenizer(texts.texts)
        vocab = self._base + SPECIALS + len(self.class_names_)
        self.net_ = GPT(
            vocab,
            int(self.block_size),
            int(self.n_layer),
            int(self.n_head),
            int(self.n_embd),
            float(self.dropout),
        ).to(self.device_)
        if texts is None:
            return
        self._seqs = self._encode(texts)
        decay = [p for n, p in self.net_.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.net_.named_parameters() if p.dim() < 2]
        self.optimizer_ = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": float(self.weight_decay)},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=float(self.learning_rate),
            betas=(0.9, 0.99),
        )
        steps = max(1, int(self.epochs) * math.ceil(len(self._seqs) / int(self.batch_size)))
        warm = int(self.warmup_steps)

        def factor(step: int) -> float:  # linear warm-up, then cosine down to 0.1
            if step < warm:
                return (step + 1) / warm
            progress = min(1.0, (step - warm) / max(1, steps - warm))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

        self.scheduler_ = torch.optim.lr_scheduler.LambdaLR(self.optimizer_, factor)

    def _modules(self) -> dict[str, nn.Module]:
        return {"gpt": self.net_}

    def _optimizers(self) -> dict[str, Any]:
        return {"adamw": self.optimizer_, "schedule": self.scheduler_}

    def _fingerprint_array(self) -> np.ndarray:
        return np.concatenate(self._seqs).astype(np.float64).reshape(-1, 1)

    def _release_training_data(self) -> None:
        for attr in ("_seqs", "optimizer_", "scheduler_"):
            self.__dict__.pop(attr, None)

    def _padded(self, seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(B, T)`` (padded with ⟨pad⟩) and targets ``(B, T)`` (−100 where padded)."""
        t = max(len(s) for s in seqs) - 1
        x = np.full((len(seqs), t), self._base + PAD, dtype=np.int64)
        y = np.full((len(seqs), t), -100, dtype=np.int64)
        for i, s in enumerate(seqs):
            x[i, : len(s) - 1], y[i, : len(s) - 1] = s[:-1], s[1:]
        return torch.from_numpy(x).to(self.device_), torch.from_numpy(y).to(self.device_)

    def _batches(self) -> list[list[int]]:
        """Indices of the training texts in batches of similar length, in a random order (torch's RNG)."""
        size = int(self.batch_size)
        order = torch.randperm(len(self._seqs)).tolist()
        lengths = [len(s) for s in self._seqs]
        batches = []
        for p in range(0, len(order), size * POOL_BATCHES):
            pool = sorted(order[p : p + size * POOL_BATCHES], key=lengths.__getitem__)
            batches += [pool[i : i + size] for i in range(0, len(pool), size)]
        return [batches[i] for i in torch.randperm(len(batches)).tolist()]

    def _fit_epoch(self) -> dict[str, float]:
        self.net_.train()
        total, tokens = 0.0, 0
        for batch in self._batches():
            x, y = self._padded([self._seqs[i] for i in batch])
            logits, _ = self.net_(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.net_.parameters(), 1.0)
            self.optimizer_.step()
            self.scheduler_.step()
            count = int((y != -100).sum())
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
        starts = self._start_ids(labels, n)  # (B, 1)
        if prefixes is None:
            return self._continue(starts, temperature, top_k, top_p, generator)
        limit = int(self.block_size) // 2  # a prefix keeps at most half of the context
        ids = [e.ids[:limit] for e in self.tokenizer_.encode_batch(prefixes)]
        out = [""] * n
        lengths = np.asarray([len(i) for i in ids])
        for length in np.unique(lengths):  # one batch per prefix length: no padding inside the cache
            where = np.flatnonzero(lengths == length)
            body = np.asarray([ids[i] for i in where], dtype=np.int64).reshape(len(where), int(length))
            x = torch.cat([starts[where], torch.from_numpy(body).to(self.device_)], 1)  # (B, 1 + length)
            for i, text in zip(where, self._continue(x, temperature, top_k, top_p, generator), strict=True):
                out[int(i)] = text
        return out

    def _continue(
        self, x: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator
    ) -> list[str]:
        """Draw the continuation of the ids ``x`` ``(B, P)`` (label token first) until ⟨eos⟩ or the
        context ends; the decoded new text of each row."""
        base, (n, start) = self._base, x.shape
        steps = int(self.block_size) + 1 - start  # inputs hold at most block_size positions
        logits, caches = self.net_(x)
        out = torch.full((n, max(steps, 1)), base + PAD, dtype=torch.long, device=self.device_)
        done = torch.zeros(n, dtype=torch.bool, device=self.device_)
        for t in range(steps):
            step = logits[:, -1, :] / temperature  # (B, V)
            step[:, base + PAD :] = float("-inf")
            step[:, base + EOS] = logits[:, -1, base + EOS] / temperature  # only BPE tokens and ⟨eos⟩
            probs = filter_logits(step, top_k, top_p).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)
            nxt = nxt.masked_fill(done, base + PAD)
            out[:, t] = nxt
            done |= nxt == base + EOS
            if bool(done.all()) or t + 1 == steps:
                break
            logits, caches = self.net_(nxt.view(-1, 1), caches, offset=start + t)
        ids = out.cpu().tolist()
        return self.tokenizer_.decode_batch([[i for i in row if i < base] for row in ids])

    def _token_nll(self, texts: TextSet) -> tuple[float, int]:
        seqs = self._encode(texts)
        nats, tokens = 0.0, 0
        order = np.argsort([len(s) for s in seqs])
        for start in range(0, len(seqs), 128):
            x, y = self._padded([seqs[i] for i in order[start : start + 128]])
            logits, _ = self.net_(x)
            nats += float(
                F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
            )
            tokens += int((y != -100).sum())
        return nats, tokens
