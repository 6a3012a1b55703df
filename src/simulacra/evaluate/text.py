"""Text metrics with no downloads: everything rests on TF-IDF features fitted on the real training texts.

Features (:func:`tfidf`): word 1–2-grams plus character 3–5-grams (within word boundaries), sublinear
TF-IDF, terms seen in at least 2 texts (scikit-learn). A logistic regression on them is the classifier of
every utility metric and of the detector.

* **Utility** — TSTR (Esteban et al. 2017): the classifier trained on the synthetic texts and tested on
  the real test texts, against TRTR (trained on the real training texts): accuracy, macro F1, F1 per
  class, and ``minority_f1`` (the F1 of the rarest real class, e.g. spam). ``label_agreement``: how
  often the real-trained classifier assigns a synthetic text the label it was generated for.
* **Fidelity** — ``length_similarity``: 1 − KS statistic of the lengths in characters;
  ``unigram_js`` / ``bigram_js``: the Jensen–Shannon distance (base 2, in [0, 1]) between the word
  unigram / bigram frequencies of real and synthetic texts (lower-cased ``\\w+`` words);
  ``frechet``: the Fréchet distance between Gaussians fitted to TF-IDF → truncated-SVD (100-d)
  document embeddings of the real training and the synthetic texts, a local "FID for text" (Heusel et
  al. 2017's formula on other features), readable only against the reference rows;
  ``detection``: a C2ST (Lopez-Paz & Oquab 2017), the logistic regression telling real training texts
  from synthetic ones, 3-fold cross-validated, scored ``1 − (2·max(AUC, ½) − 1)`` as for tables.
* **Diversity** — ``distinct_1/2/3`` (Li et al. 2016): distinct word n-grams ÷ all word n-grams over
  the same number of texts for every row (it falls as texts are added); ``self_bleu`` (Zhu et al.
  2018, "Texygen"): the mean sentence BLEU (``sacrebleu``, effective order) of each of 200 texts
  against 200 others of the same set; lower is more varied.
* **Memorisation** — ``exact_copy_rate``: the share of synthetic texts equal (whitespace collapsed) to
  a training text, beside ``holdout_copy_rate``, the real test texts' own rate (SMS repeats messages);
  ``longest_shared_ngram``: the median over texts of the longest word n-gram shared with the training
  set (and its maximum in the details).
* **Likelihood** — the model's per-token perplexity and bits per character on the real test texts,
  when a model is given (:meth:`~simulacra.synthesizers.text.TextSynthesizer.perplexity`).

Reference rows, scored the same way as the synthetic texts (no TSTR: they are built from the test
texts): ``real test`` (what a perfect generator reaches), ``shuffled words`` (the real test texts with
each text's words shuffled: right words, no order) and ``random text`` (words drawn uniformly from the
training vocabulary, at the test texts' lengths: no learning at all).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import numpy as np

from simulacra.errors import DataError
from simulacra.evaluate import DESCRIPTIONS, Evaluation
from simulacra.io import TextSet

_WORD = re.compile(r"\w+", re.UNICODE)
SVD_DIM = 100
DISTINCT_TEXTS = 1000
BLEU_TEXTS = 200
DETECTION_TEXTS = 5000

DESCRIPTIONS.update(
    {
        "minority_f1": "F1 on real test texts of the rarest real class (e.g. spam), classifier trained on synthetic texts (TSTR).",
        "macro_f1": "Macro F1 on real test texts, classifier (TF-IDF + logistic regression) trained on synthetic texts.",
        "trtr_minority_f1": "The same F1, classifier trained on the real training texts (TRTR): the ceiling.",
        "length_similarity": "1 − KS statistic between the text lengths (characters) of real and synthetic texts. 1 = same lengths.",
        "unigram_js": "Jensen–Shannon distance (base 2) of word frequencies, real vs synthetic. 0 = identical, 1 = disjoint.",
        "bigram_js": "Jensen–Shannon distance (base 2) of word-bigram frequencies, real vs synthetic. Lower is better.",
        "frechet": "Fréchet distance of TF-IDF→SVD document embeddings, real training vs synthetic (a local FID for text). Lower is better; read it against the reference rows.",
        "detection_text": "C2ST: 1 − (2·max(AUC, ½) − 1) of TF-IDF + logistic regression telling real from synthetic texts. 1 = indistinguishable.",
        "distinct_1": "Distinct word unigrams ÷ all unigrams over the same number of texts (Li et al. 2016). Compare with the real texts'.",
        "distinct_2": "Distinct word bigrams ÷ all bigrams over the same number of texts. Compare with the real texts'.",
        "distinct_3": "Distinct word trigrams ÷ all trigrams over the same number of texts.",
        "self_bleu": "Mean BLEU of each text against other texts of the same set (Texygen). Lower is more varied; compare with the real texts'.",
        "holdout_copy_rate": "Share of real test texts that also occur in the training texts: the rate a perfect generator would show.",
        "longest_shared_ngram": "Median over texts of the longest word n-gram also found in a training text. Compare with the real test texts'.",
        "perplexity": "The model's per-token perplexity on the real test texts (lower is better; comparable only within one tokenizer).",
        "bits_per_char": "The model's negative log-likelihood of the real test texts in bits per character (comparable across tokenizers).",
    }
)


def words(text: str) -> list[str]:
    """Lower-cased ``\\w+`` words of ``text``."""
    return _WORD.findall(text.lower())


def _norm(text: str) -> str:
    return " ".join(text.split())


def tfidf(train_texts: list[str]):
    """The TF-IDF feature map of the module docstring, fitted on ``train_texts``: a scikit-learn
    ``FeatureUnion`` whose ``transform`` gives a sparse ``(N, F)`` float64 matrix."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    min_df = 2 if len(train_texts) >= 20 else 1
    union = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)),
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=min_df),
            ),
        ]
    )
    return union.fit(train_texts)


def classifier(features, texts: list[str], labels: np.ndarray, seed: int = 0):
    """Logistic regression on ``features.transform(texts)`` for ``labels`` ``(N,)``; a constant
    predictor when only one class is present."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    x = features.transform(texts)
    if len(np.unique(labels)) < 2:
        return DummyClassifier(strategy="most_frequent").fit(x, labels)
    return LogisticRegression(max_iter=2000, random_state=seed).fit(x, labels)


def classification_scores(
    model, features, test: TextSet, class_names: list[str], minority: int
) -> dict[str, float]:
    """Accuracy, macro F1, per-class F1 (``f1_<class>``) and ``minority_f1`` of ``model`` on ``test``."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = model.predict(features.transform(test.texts))
    truth = test.labels
    labels = list(range(len(class_names)))
    per_class = f1_score(truth, pred, labels=labels, average=None, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(f1_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        "minority_f1": float(per_class[minority]),
    }
    out |= {f"f1_{name}": float(v) for name, v in zip(class_names, per_class, strict=True)}
    return out


def _relabel(texts: TextSet, class_names: list[str]) -> np.ndarray:
    """``texts``' labels as indices into ``class_names`` (texts of another class set are refused)."""
    names = [texts.class_names[i] for i in texts.labels]
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise DataError(
            f"labels {unknown} are not classes of the real texts ({', '.join(class_names)}); "
            "give synthetic texts of the real classes"
        )
    index = {c: i for i, c in enumerate(class_names)}
    return np.asarray([index[n] for n in names], dtype=np.int64)


def length_similarity(real: list[str], other: list[str]) -> float:
    """1 − the two-sample KS statistic of text lengths in characters."""
    from scipy.stats import ks_2samp

    return float(1.0 - ks_2samp([len(t) for t in real], [len(t) for t in other], method="asymp").statistic)


def ngram_js(real: list[str], other: list[str], n: int) -> float:
    """Jensen–Shannon distance (base 2) between the word ``n``-gram frequencies of two sets of texts."""
    from scipy.spatial.distance import jensenshannon

    a, b = Counter(), Counter()
    for texts, counts in ((real, a), (other, b)):
        for t in texts:
            w = words(t)
            counts.update(zip(*(w[i:] for i in range(n)), strict=False))
    keys = list(set(a) | set(b))
    if not keys:
        return 0.0
    p = np.array([a[k] for k in keys], dtype=float)
    q = np.array([b[k] for k in keys], dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return 1.0
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def frechet(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance ``‖μx − μy‖² + Tr(Σx + Σy − 2(ΣxΣy)^½)`` between Gaussian fits of ``(N, D)`` and
    ``(M, D)`` embeddings (Heusel et al. 2017)."""
    from scipy import linalg

    mx, my = x.mean(0), y.mean(0)
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = np.real(linalg.sqrtm(sx @ sy))
    return float(max(0.0, ((mx - my) ** 2).sum() + np.trace(sx) + np.trace(sy) - 2 * np.trace(covmean)))


def detection_text(features, real: list[str], other: list[str], seed: int = 0) -> dict[str, float]:
    """The text C2ST of the module docstring on up to :data:`DETECTION_TEXTS` texts of each set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(real), len(other), DETECTION_TEXTS)
    texts = [real[i] for i in rng.choice(len(real), n, replace=False)]
    texts += [other[i] for i in rng.choice(len(other), n, replace=False)]
    y = np.r_[np.zeros(n), np.ones(n)]
    x = features.transform(texts)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, proba))
    return {"score": 1.0 - (2.0 * max(auc, 0.5) - 1.0), "auc": auc}


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct word ``n``-grams ÷ all word ``n``-grams of ``texts`` (0 when there are none)."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = words(t)
        grams += zip(*(w[i:] for i in range(n)), strict=False)
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(texts: list[str], seed: int = 0) -> float:
    """Mean sentence BLEU (sacrebleu, effective order) of :data:`BLEU_TEXTS` texts, each against
    :data:`BLEU_TEXTS` other texts of the set (Zhu et al. 2018)."""
    from sacrebleu.metrics import BLEU

    rng = np.random.default_rng(seed)
    pool = [texts[i] for i in rng.permutation(len(texts))[: 2 * BLEU_TEXTS]]
    if len(pool) < 2:
        return 0.0
    hyps, refs = pool[: len(pool) // 2], pool[len(pool) // 2 :]
    # the references' n-grams counted once (one segment with every reference), not once per hypothesis:
    # the same score as ``sentence_score(h, refs)``
    bleu = BLEU(effective_order=True, references=[[r] for r in refs])
    return float(np.mean([bleu.corpus_score([h], None).score for h in hyps]) / 100.0)


def copy_rate(train: list[str], texts: list[str]) -> float:
    """Share of ``texts`` equal (whitespace collapsed) to some text of ``train``."""
    seen = {_norm(t) for t in train}
    return float(np.mean([_norm(t) in seen for t in texts])) if texts else 0.0


def longest_shared_ngrams(train: list[str], texts: list[str]) -> np.ndarray:
    """``(N,)`` the longest word n-gram of each of ``texts`` that also occurs in ``train`` (0: no word in
    common). Grows n while any text still shares one, so the cost is the longest match times the
    training words."""
    train_words = [words(t) for t in train]
    text_words = [words(t) for t in texts]
    best = np.zeros(len(texts), dtype=np.int64)
    alive = [i for i, w in enumerate(text_words) if w]
    n = 1
    while alive:
        grams = {g for w in train_words for g in zip(*(w[i:] for i in range(n)), strict=False)}
        still = []
        for i in alive:
            w = text_words[i]
            if any(g in grams for g in zip(*(w[j:] for j in range(n)), strict=False)):
                best[i] = n
                if len(w) > n:
                    still.append(i)
        alive, n = still, n + 1
    return best


def reference_texts(train: TextSet, test: TextSet | None, seed: int = 0) -> dict[str, TextSet]:
    """The reference rows of the module docstring, built from the real test texts (the training texts
    when there are none), labels kept: ``real test``, ``shuffled words`` (each test text's words in a
    random order) and ``random text`` (words drawn uniformly from the training vocabulary, one text per
    test text, of its word count)."""
    rng = np.random.default_rng(seed)
    base = test if test is not None else train
    refs: dict[str, TextSet] = {}
    if test is not None:
        refs["real test"] = test
    shuffled = []
    for t in base.texts:
        w = t.split()
        shuffled.append(" ".join(w[i] for i in rng.permutation(len(w))))
    refs["shuffled words"] = TextSet(shuffled, base.labels, list(base.class_names))
    vocab = sorted({w for t in train.texts for w in t.split()}) or [""]
    lengths = [len(t.split()) for t in base.texts]
    random_texts = [" ".join(vocab[j] for j in rng.integers(0, len(vocab), size=k)) for k in lengths]
    refs["random text"] = TextSet(random_texts, base.labels, list(base.class_names))
    return refs


def _scores(
    texts: list[str], train: TextSet, features, svd, real_emb: np.ndarray, size: int, seed: int
) -> dict[str, float]:
    """Fidelity and diversity of one set of texts (a model's or a reference row's)."""
    sample = [texts[i] for i in np.random.default_rng(seed).permutation(len(texts))[:size]]
    out = {
        "length_similarity": length_similarity(train.texts, texts),
        "unigram_js": ngram_js(train.texts, texts, 1),
        "bigram_js": ngram_js(train.texts, texts, 2),
        "frechet": frechet(real_emb, svd.transform(features.transform(texts))),
        "detection_text": detection_text(features, train.texts, texts, seed=seed)["score"],
    }
    out |= {f"distinct_{n}": distinct_n(sample, n) for n in (1, 2, 3)}
    out["self_bleu"] = self_bleu(texts, seed=seed)
    return out


def evaluate_texts(
    real_train: TextSet,
    synthetic: TextSet,
    real_test: TextSet | None = None,
    *,
    model: Any = None,
    seed: int = 0,
    references: bool = True,
) -> Evaluation:
    """Score synthetic texts against the real ones (see the module docstring for each metric).

    Parameters
    ----------
    real_train: the texts the generator was fitted on (labelled for utility metrics).
    synthetic: generated texts (labelled for TSTR and label agreement).
    real_test: real texts nobody trained on: TSTR/TRTR, the ``real test`` reference row, the holdout's
        copy rate, the model's perplexity.
    model: a fitted text synthesizer, for the likelihood group (optional).
    seed: seeds every subsample, the SVD and the classifiers.
    references: also score the reference rows (``details["references"]``).

    Returns
    -------
    Evaluation
        Groups ``fidelity``, ``diversity``, ``utility``, ``privacy`` and ``likelihood``; details hold the
        real texts' own diversity (``real``), the reference rows, per-class F1 and nearest training
        texts of the first samples of each class (``neighbours``).

    Raises
    ------
    DataError
        Fewer than 10 texts in a set, or synthetic labels that are not classes of the real texts.
    """
    from sklearn.decomposition import TruncatedSVD

    for name, s in (("real training", real_train), ("synthetic", synthetic), ("real test", real_test)):
        if s is not None and len(s) < 10:
            raise DataError(f"the {name} texts: {len(s)} given, text metrics need at least 10")
    ev = Evaluation()
    clock = time.perf_counter()
    features = tfidf(real_train.texts)
    x_train = features.transform(real_train.texts)
    dim = max(1, min(SVD_DIM, x_train.shape[1] - 1, len(real_train) - 1))
    svd = TruncatedSVD(dim, random_state=seed).fit(x_train)
    real_emb = svd.transform(x_train)
    sets = [len(real_train), len(synthetic)] + ([len(real_test)] if real_test is not None else [])
    size = min(DISTINCT_TEXTS, *sets)
    scores = _scores(synthetic.texts, real_train, features, svd, real_emb, size, seed)
    ev.metrics["fidelity"] = {
        k: scores[k] for k in ("length_similarity", "unigram_js", "bigram_js", "frechet", "detection_text")
    }
    ev.metrics["diversity"] = {k: scores[k] for k in ("distinct_1", "distinct_2", "distinct_3", "self_bleu")}
    real_sample = [
        real_train.texts[i] for i in np.random.default_rng(seed).permutation(len(real_train))[:size]
    ]
    ev.details["real"] = {f"distinct_{n}": distinct_n(real_sample, n) for n in (1, 2, 3)} | {
        "self_bleu": self_bleu(real_train.texts, seed=seed)
    }
    ev.details["texts_for_distinct"] = size
    ev.seconds["fidelity"] = time.perf_counter() - clock

    clock = time.perf_counter()
    labelled = real_train.labels is not None
    classes = list(real_train.class_names)
    utility: dict[str, float] = {}
    real_clf = None
    if not labelled:
        ev.skipped["utility"] = "the real training texts have no labels"
    else:
        counts = np.bincount(real_train.labels, minlength=len(classes))
        minority = int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))
        real_clf = classifier(features, real_train.texts, real_train.labels, seed)
        if synthetic.labels is not None:
            syn_labels = _relabel(synthetic, classes)
            pred = real_clf.predict(features.transform(synthetic.texts))
            utility["label_agreement"] = float((pred == syn_labels).mean())
        if real_test is None or real_test.labels is None:
            ev.skipped["tstr"] = "needs labelled real test texts"
        else:
            test = TextSet(real_test.texts, _relabel(real_test, classes), classes)
            trtr = classification_scores(real_clf, features, test, classes, minority)
            ev.details["trtr"] = trtr
            utility["trtr_accuracy"] = trtr["accuracy"]
            utility["trtr_minority_f1"] = trtr["minority_f1"]
            if synthetic.labels is None:
                ev.skipped["tstr"] = "the synthetic texts have no labels (an unconditional model)"
            else:
                tstr_clf = classifier(features, synthetic.texts, _relabel(synthetic, classes), seed)
                tstr = classification_scores(tstr_clf, features, test, classes, minority)
                ev.details["tstr"] = tstr
                utility |= {"tstr_accuracy": tstr["accuracy"], "macro_f1": tstr["macro_f1"]}
                utility["minority_f1"] = tstr["minority_f1"]
        ev.details["minority_class"] = classes[minority]
    if utility:
        ev.metrics["utility"] = utility
    ev.seconds["utility"] = time.perf_counter() - clock

    clock = time.perf_counter()
    shared = longest_shared_ngrams(real_train.texts, synthetic.texts)
    privacy = {
        "exact_copy_rate": copy_rate(real_train.texts, synthetic.texts),
        "longest_shared_ngram": float(np.median(shared)),
    }
    if real_test is not None:
        privacy["holdout_copy_rate"] = copy_rate(real_train.texts, real_test.texts)
    ev.metrics["privacy"] = privacy
    ev.details["longest_shared_ngram_max"] = int(shared.max(initial=0))
    ev.details["neighbours"] = nearest_training_texts(features, real_train, synthetic)
    ev.seconds["privacy"] = time.perf_counter() - clock

    if model is not None and real_test is not None and hasattr(model, "perplexity"):
        clock = time.perf_counter()
        ev.metrics["likelihood"] = {k: v for k, v in model.perplexity(real_test).items() if k != "tokens"}
        ev.seconds["likelihood"] = time.perf_counter() - clock

    if references:
        clock = time.perf_counter()
        refs = {}
        for name, ref in reference_texts(real_train, real_test, seed=seed).items():
            row = _scores(ref.texts, real_train, features, svd, real_emb, size, seed)
            row["exact_copy_rate"] = copy_rate(real_train.texts, ref.texts)
            row["longest_shared_ngram"] = float(np.median(longest_shared_ngrams(real_train.texts, ref.texts)))
            if real_clf is not None and ref.labels is not None:
                ref_labels = _relabel(ref, classes)
                row["label_agreement"] = float(
                    (real_clf.predict(features.transform(ref.texts)) == ref_labels).mean()
                )
            refs[name] = row
        ev.details["references"] = refs
        ev.seconds["references"] = time.perf_counter() - clock
    return ev


def nearest_training_texts(
    features, train: TextSet, synthetic: TextSet, per_class: int = 5
) -> list[dict[str, Any]]:
    """The first ``per_class`` synthetic texts of each class (or the first ``2·per_class`` without
    labels) beside their nearest training text by cosine similarity of the TF-IDF features."""
    if synthetic.labels is None:
        chosen = list(range(min(len(synthetic), 2 * per_class)))
    else:
        chosen = []
        for c in range(len(synthetic.class_names)):
            chosen += [int(i) for i in np.flatnonzero(synthetic.labels == c)[:per_class]]
    if not chosen:
        return []
    x_train = features.transform(train.texts)
    x = features.transform([synthetic.texts[i] for i in chosen])
    sims = (x @ x_train.T).toarray()  # rows are L2-normalised per block: the cosine up to a factor 2
    best = sims.argmax(1)
    out = []
    for row, i in enumerate(chosen):
        j = int(best[row])
        out.append(
            {
                "label": synthetic.class_names[int(synthetic.labels[i])]
                if synthetic.labels is not None
                else "",
                "synthetic": synthetic.texts[i],
                "nearest": train.texts[j],
                "similarity": float(sims[row, j] / 2.0),
                "is_copy": _norm(synthetic.texts[i]) == _norm(train.texts[j]),
            }
        )
    return out


def augmentation_effect(train: TextSet, augmented: TextSet, test: TextSet, seed: int = 0) -> dict[str, float]:
    """TRTR with and without augmented copies: the classifier of the module docstring trained on the
    real training texts, and on them plus ``augmented`` (features fitted on the real texts both times),
    scored on ``test``.

    Returns
    -------
    dict
        ``accuracy``, ``minority_f1`` (real only) and ``augmented_accuracy``, ``augmented_minority_f1``
        (real + augmented), ``minority_class``.

    Raises
    ------
    DataError
        Unlabelled texts, or labels that are not classes of the real training texts.
    """
    if train.labels is None or augmented.labels is None or test.labels is None:
        raise DataError("the effect of augmentation needs labelled training, augmented and test texts")
    classes = list(train.class_names)
    counts = np.bincount(train.labels, minlength=len(classes))
    minority = int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))
    features = tfidf(train.texts)
    test = TextSet(test.texts, _relabel(test, classes), classes)
    plain = classification_scores(
        classifier(features, train.texts, train.labels, seed), features, test, classes, minority
    )
    both = classifier(
        features, train.texts + augmented.texts, np.r_[train.labels, _relabel(augmented, classes)], seed
    )
    mixed = classification_scores(both, features, test, classes, minority)
    return {
        "accuracy": plain["accuracy"],
        "minority_f1": plain["minority_f1"],
        "augmented_accuracy": mixed["accuracy"],
        "augmented_minority_f1": mixed["minority_f1"],
        "minority_class": classes[minority],
    }
