"""Text augmentation: EDA (Wei & Zou 2019, "EDA: Easy Data Augmentation Techniques for Boosting
Performance on Text Classification Tasks") and keyboard typos, seeded, labels kept.

A pipeline is a list of steps, each ``{op: NAME, p: SHARE}``, applied in order to every text; from YAML::

    synonyms: word2vec          # or wordnet (needs nltk and its WordNet data installed)
    steps:
      - {op: synonym_replacement, p: 0.1}
      - {op: random_insertion, p: 0.1}
      - {op: random_swap, p: 0.1}
      - {op: random_deletion, p: 0.1}
      - {op: keyboard_typos, p: 0.02}

Operations (:data:`CONSTRAINTS`; ``p`` is EDA's α, the share of a text's ``l`` words changed):

* ``synonym_replacement`` — ``n = max(1, round(p·l))`` words that are not stop words (scikit-learn's
  English list) and have a synonym are each replaced by a random one of their synonyms;
* ``random_insertion`` — ``n`` times, a random synonym of a random word is inserted at a random place;
* ``random_swap`` — ``n`` times, two random words trade places;
* ``random_deletion`` — each word is deleted with probability ``p`` (one word always stays);
* ``keyboard_typos`` — each letter is replaced, with probability ``p``, by a neighbouring key of a
  QWERTY keyboard (case kept);
* ``lm_rewrite`` [``model: FOLDER``, ``keep`` 0.5, ``p`` 0.5] — paraphrasing through a fitted text model
  (``hf-causal-lm`` or ``textgpt``): a share ``p`` of the texts keep their first ``keep`` share of words
  and the model, prompted by the text's label, writes the rest
  (:meth:`~simulacra.synthesizers.text.TextSynthesizer.rewrite`). The start and the class stay; the rest
  is new wording whose meaning is the model's, not a meaning-preserving paraphrase.

Synonyms (``synonyms:``): ``word2vec`` (default) trains word vectors on the texts being augmented with
gensim (Mikolov et al. 2013; skip-gram, 50 dimensions, window 5, words seen at least 3 times, one worker
thread so that a seed gives the same vectors) and takes a word's 5 nearest words with cosine similarity
≥ 0.5 — corpus neighbours, which for SMS include spellings ("u" for "you") as well as true synonyms;
``wordnet`` takes WordNet's lemmas (Miller 1995) through nltk when the user has it and its data installed.

Words are whitespace-separated tokens; a token is looked up by its lower-cased letters and digits, so
punctuation next to a word stays where it was. Where this differs from the EDA paper: the paper
lower-cases the text and strips punctuation first; here the text keeps its case and punctuation (an SMS
classifier reads both).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from simulacra.augment.steps import check_steps, read_steps
from simulacra.errors import ConfigError
from simulacra.io import TextSet
from simulacra.validation import Param, Probability, Real, Text

_P = {"p": Probability()}
#: op name → the constraints of its parameters, checked when the pipeline is built
CONSTRAINTS: dict[str, dict[str, Param]] = {
    "synonym_replacement": _P,
    "random_insertion": _P,
    "random_swap": _P,
    "random_deletion": _P,
    "keyboard_typos": _P,
    "lm_rewrite": {**_P, "keep": Real(gt=0, le=1), "model": Text()},
}
#: the step that needs a fitted text model (the caller passes it as a rewriter)
MODEL_OPS = ("lm_rewrite",)
SYNONYM_SOURCES = ("word2vec", "wordnet")
_CORE = re.compile(r"[^\w]+", re.UNICODE)
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _keyboard() -> dict[str, str]:
    """Each lower-case letter → its neighbours on a QWERTY keyboard (same row and the rows beside)."""
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in pos.items():
        out[c] = "".join(
            d
            for d, (r2, i2) in pos.items()
            if d != c and abs(r2 - r) <= 1 and abs(i2 - i + 0.5 * (r2 - r)) <= 1
        )
    return out


KEYBOARD = _keyboard()


def core(token: str) -> str:
    """A token's lower-cased letters and digits (the key synonyms are looked up by)."""
    return _CORE.sub("", token.lower())


class Synonyms:
    """Word → synonyms, from word vectors trained on ``texts`` (``word2vec``) or WordNet.

    Raises
    ------
    ConfigError
        ``wordnet`` without nltk or its WordNet data.
    """

    def __init__(self, texts: list[str], source: str = "word2vec", seed: int = 0) -> None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.source, self.stop = source, ENGLISH_STOP_WORDS
        self._cache: dict[str, list[str]] = {}
        if source == "wordnet":
            try:
                from nltk.corpus import wordnet

                wordnet.synsets("test")
            except (ImportError, LookupError):
                raise ConfigError(
                    "synonyms: wordnet needs nltk and its WordNet data (pip install nltk; python -m "
                    "nltk.downloader wordnet); or use synonyms: word2vec"
                ) from None
            self._wordnet = wordnet
            return
        from gensim.models import Word2Vec

        sentences = [[w for w in (core(t) for t in text.split()) if w] for text in texts]
        self._vectors = Word2Vec(
            sentences, vector_size=50, window=5, min_count=3, sg=1, workers=1, seed=seed, epochs=10
        ).wv

    def __call__(self, word: str) -> list[str]:
        """Synonyms of ``word`` (its :func:`core`), none for stop words."""
        key = core(word)
        if not key or key in self.stop:
            return []
        if key not in self._cache:
            if self.source == "wordnet":
                found = {
                    lemma.name().replace("_", " ").lower()
                    for syn in self._wordnet.synsets(key)
                    for lemma in syn.lemmas()
                }
                self._cache[key] = sorted(found - {key})
            elif key in self._vectors.key_to_index:
                self._cache[key] = [w for w, s in self._vectors.most_similar(key, topn=5) if s >= 0.5]
            else:
                self._cache[key] = []
        return self._cache[key]


def _swap_core(token: str, new: str) -> str:
    """``token`` with its word replaced by ``new``, punctuation around it kept."""
    m = re.search(r"\w+(?:\W+\w+)*", token)
    return token[: m.start()] + new + token[m.end() :] if m else new


def synonym_replacement(
    words: list[str], p: float, rng: np.random.Generator, synonyms: Synonyms
) -> list[str]:
    out = list(words)
    candidates = [i for i, w in enumerate(out) if synonyms(w)]
    n = min(len(candidates), max(1, round(p * len(out)))) if p > 0 else 0
    for i in rng.permutation(candidates)[:n]:
        options = synonyms(out[i])
        out[i] = _swap_core(out[i], options[int(rng.integers(len(options)))])
    return out


def random_insertion(words: list[str], p: float, rng: np.random.Generator, synonyms: Synonyms) -> list[str]:
    out = list(words)
    n = max(1, round(p * len(out))) if p > 0 and out else 0
    for _ in range(n):
        options = [w for w in out if synonyms(w)]
        if not options:
            break
        syns = synonyms(options[int(rng.integers(len(options)))])
        out.insert(int(rng.integers(len(out) + 1)), syns[int(rng.integers(len(syns)))])
    return out


def random_swap(words: list[str], p: float, rng: np.random.Generator, synonyms: Synonyms) -> list[str]:
    out = list(words)
    n = max(1, round(p * len(out))) if p > 0 and len(out) > 1 else 0
    for _ in range(n):
        i, j = rng.choice(len(out), 2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: list[str], p: float, rng: np.random.Generator, synonyms: Synonyms) -> list[str]:
    if len(words) <= 1:
        return list(words)
    keep = rng.random(len(words)) >= p
    if not keep.any():
        keep[int(rng.integers(len(words)))] = True
    return [w for w, k in zip(words, keep, strict=True) if k]


def keyboard_typos(words: list[str], p: float, rng: np.random.Generator, synonyms: Synonyms) -> list[str]:
    text = " ".join(words)
    hits = rng.random(len(text)) < p
    chars = list(text)
    for i in np.flatnonzero(hits):
        c = chars[i]
        near = KEYBOARD.get(c.lower())
        if near:
            new = near[int(rng.integers(len(near)))]
            chars[i] = new.upper() if c.isupper() else new
    return "".join(chars).split(" ")


OPS = {
    "synonym_replacement": synonym_replacement,
    "random_insertion": random_insertion,
    "random_swap": random_swap,
    "random_deletion": random_deletion,
    "keyboard_typos": keyboard_typos,
}


class TextAugmenter:
    """A pipeline of :data:`OPS` steps with a synonym source (see the module docstring).

    Raises
    ------
    ConfigError
        An unknown op or synonym source, a parameter the op does not take, or a value out of range.
    """

    def __init__(self, steps: list[dict[str, Any]], synonyms: str = "word2vec") -> None:
        if synonyms not in SYNONYM_SOURCES:
            raise ConfigError(f"synonyms: {synonyms!r} is not one of {', '.join(SYNONYM_SOURCES)}")
        for i, step in enumerate(steps or []):
            if isinstance(step, dict) and step.get("op") in MODEL_OPS and "model" not in step:
                raise ConfigError(
                    f"augmentation step {i + 1} ({step['op']}): give model: the folder of a fitted text "
                    "model (textgpt, hf-causal-lm)"
                )

        def defaults(op: str) -> dict[str, Any]:
            return {"p": 0.5, "keep": 0.5} if op in MODEL_OPS else {"p": 0.1}

        self.steps = check_steps(steps, CONSTRAINTS, "{op: random_swap, p: 0.1}", defaults)
        self.synonyms = synonyms

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> TextAugmenter:
        """Read ``steps: [...]`` and optional ``synonyms:`` from a YAML file.

        Raises
        ------
        ConfigError
            Missing or unreadable file, no steps, or an unknown top-level key.
        """
        steps, doc = read_steps(path, ("steps", "synonyms"))
        return cls(steps, synonyms=doc.get("synonyms", "word2vec"))

    @property
    def needs_synonyms(self) -> bool:
        return any(s["op"] in ("synonym_replacement", "random_insertion") for s in self.steps)

    @property
    def models(self) -> list[str]:
        """The model folders the ``lm_rewrite`` steps name, in order of first use."""
        return list(dict.fromkeys(s["model"] for s in self.steps if s["op"] in MODEL_OPS))


#: ``(texts, keep, seed) -> rewritten texts``: a fitted text model's ``rewrite`` (see the module
#: docstring); the caller loads the model, since augmentation does not import the synthesizers
Rewriter = Callable[[TextSet, float, int], TextSet]


def augment_texts(
    texts: TextSet,
    augmenter: TextAugmenter,
    *,
    copies: int = 1,
    seed: int = 0,
    rewriters: dict[str, Rewriter] | None = None,
) -> TextSet:
    """``copies`` augmented versions of every text (copy-major: all texts once, then again …), labels
    kept; each step runs over all the texts in turn. The same ``seed`` gives the same texts.
    ``rewriters`` maps each ``lm_rewrite`` step's ``model`` to the model's rewrite function.

    Returns
    -------
    TextSet
        ``copies · N`` texts with the labels and class names of ``texts``.

    Raises
    ------
    ConfigError
        An ``lm_rewrite`` step whose model is not in ``rewriters``.
    """
    missing = [m for m in augmenter.models if m not in (rewriters or {})]
    if missing:
        raise ConfigError(f"lm_rewrite: no fitted text model loaded for {missing[0]!r}; give its folder")
    synonyms = Synonyms(texts.texts, augmenter.synonyms, seed=seed) if augmenter.needs_synonyms else None
    rng = np.random.default_rng(seed)
    out = [t for _ in range(int(copies)) for t in texts.texts]
    labels = None if texts.labels is None else np.tile(texts.labels, int(copies))
    for step in augmenter.steps:
        p = float(step["p"])
        if step["op"] in MODEL_OPS:
            chosen = np.flatnonzero(rng.random(len(out)) < p)
            part = TextSet(
                [out[i] for i in chosen], None if labels is None else labels[chosen], list(texts.class_names)
            )
            new = rewriters[step["model"]](part, float(step["keep"]), int(rng.integers(2**31)))  # type: ignore[index]
            for i, t in zip(chosen, new.texts, strict=True):
                out[int(i)] = t
        else:
            out = [" ".join(OPS[step["op"]](t.split(), p, rng, synonyms)) for t in out]
    return TextSet(out, labels, list(texts.class_names))
