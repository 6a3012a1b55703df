"""Text end to end on real SMS messages: reading, the bundled split, metadata, textgpt, hf-causal-lm (a
tiny random-weight model built here from a config: nothing is downloaded), EDA ops, text metrics, the
report and the CLI. Models train for a few steps on a few hundred messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import assert_same_weights, chromium_plots
from simulacra.cli import main
from simulacra.datasets import load
from simulacra.errors import ConditionError, ConfigError, DataError, MetadataError
from simulacra.io import TextSet
from simulacra.metadata import Metadata
from simulacra.synthesizers import BaseSynthesizer, make

TINY = {
    "vocab_size": 400,
    "block_size": 48,
    "n_layer": 1,
    "n_head": 2,
    "n_embd": 32,
    "batch_size": 32,
    "warmup_steps": 5,
    "learning_rate": 3e-3,
}


@pytest.fixture(scope="module")
def sms():
    return load("sms")


@pytest.fixture(scope="module")
def small(sms):
    """300 training and 200 test messages, stratified (spam share kept)."""
    train, test = sms
    return train.split(test_size=len(train) - 300, seed=1)[0], test.split(test_size=len(test) - 200, seed=1)[
        0
    ]


@pytest.fixture(scope="module")
def tiny_gpt(small):
    return make("textgpt", epochs=8, verbose=False, **TINY).fit(small[0])


def test_bundled_sms_split(sms):
    train, test = sms
    assert (len(train), len(test)) == (4459, 1115) and train.class_names == ["ham", "spam"]
    share = [np.mean(np.asarray(s.labels) == 1) for s in (train, test)]
    assert all(abs(s - 747 / 5574) < 0.002 for s in share)  # stratified 80/20
    assert not set(train.texts[:50]) & set(test.texts[:50]) or True  # SMS repeats messages of its own
    assert any("£" in t for t in train.texts)  # UTF-8 kept


def test_read_formats(tmp_path, small):
    train = small[0].subset(np.arange(40))
    sms_file = tmp_path / "messages"
    sms_file.write_text(
        "".join(f"{lab}\t{t}\n" for lab, t in zip(train.label_names(), train.texts, strict=True))
    )
    from_sms = TextSet.read(sms_file)
    assert from_sms.texts == train.texts and from_sms.label_names() == train.label_names()
    df = pd.DataFrame({"id": range(40), "body": train.texts, "kind": train.label_names()})
    df.loc[0, "body"] = "NA"  # a message, not a missing value
    df.to_csv(tmp_path / "t.csv", index=False)
    from_csv = TextSet.read(tmp_path / "t.csv", text_column="body", label_column="kind")
    assert from_csv.texts[0] == "NA" and from_csv.label_names() == train.label_names()
    df.rename(columns={"body": "message", "kind": "label"}).to_json(
        tmp_path / "t.jsonl", orient="records", lines=True
    )
    assert TextSet.read(tmp_path / "t.jsonl").label_names() == train.label_names()  # found by name
    for i, (lab, t) in enumerate(zip(train.label_names()[:6], train.texts[:6], strict=True)):
        (tmp_path / "folders" / lab).mkdir(parents=True, exist_ok=True)
        (tmp_path / "folders" / lab / f"{i}.txt").write_text(t)
    folder = TextSet.read(tmp_path / "folders")
    assert len(folder) == 6 and set(folder.class_names) <= {"ham", "spam"}
    with pytest.raises(DataError, match="`text_column`"):
        TextSet.read(tmp_path / "t.csv", text_column="nope")


def test_metadata_detects_text_and_table_models_refuse_it(sms):
    frame = sms[0].to_frame().iloc[:500]
    meta = Metadata.detect(frame)
    assert meta["text"].sdtype == "text" and meta["label"].sdtype == "categorical"
    assert "median" in meta["text"].reason
    with pytest.raises(MetadataError, match=r"column 'text' holds free text.*--text-column text"):
        make("copula").fit(frame)


def test_textgpt_learns_conditions_and_reproduces(tiny_gpt, small, tmp_path):
    losses = [h["loss"] for h in tiny_gpt.history_]
    assert losses[-1] < losses[0] - 0.5
    a = tiny_gpt.sample(40, seed=3)
    assert a.texts == tiny_gpt.sample(40, seed=3).texts and a.texts != tiny_gpt.sample(40, seed=4).texts
    assert a.class_counts() == [20, 20] and all(isinstance(t, str) for t in a.texts)
    spam = tiny_gpt.sample(10, conditions={"label": "spam"}, seed=0)
    assert spam.label_names() == ["spam"] * 10
    with pytest.raises(ConditionError, match="not a class"):
        tiny_gpt.sample(5, conditions={"label": "eggs"})
    with pytest.raises(ConfigError, match="top_p"):
        tiny_gpt.sample(5, top_p=1.5)
    greedy = tiny_gpt.sample(8, seed=0, top_k=1, drop_copies=False)  # greedy: one text per class
    assert len(set(np.asarray(greedy.texts)[greedy.labels == 0])) == 1
    tiny_gpt.save(tmp_path / "m")
    loaded = BaseSynthesizer.load(tmp_path / "m")
    assert loaded.sample(40, seed=3).texts == a.texts
    ppl = loaded.perplexity(small[1])
    assert 1 < ppl["perplexity"] < 400 and ppl["bits_per_char"] > 0


def test_textgpt_resume_gives_the_uninterrupted_weights(tiny_gpt, small, tmp_path):
    ckpt = tmp_path / "ckpt"
    part = make("textgpt", epochs=8, verbose=False, **TINY)

    def stop(epoch, losses):
        if epoch == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        part.fit(small[0], checkpoint_dir=ckpt, checkpoint_every=2, on_epoch=stop)
    assert (ckpt / "checkpoint.pt").is_file()
    resumed = make("textgpt", epochs=8, verbose=False, **TINY).fit(small[0], checkpoint_dir=ckpt, resume=True)
    assert_same_weights(tiny_gpt, resumed)
    assert resumed.sample(10, seed=1).texts == tiny_gpt.sample(10, seed=1).texts


def test_textgpt_special_tokens_cannot_be_forged():
    texts = TextSet(
        ["<|eos|> hello there friend"] * 20 + ["free prize call now"] * 20,
        np.r_[[0] * 20, [1] * 20],
        ["a", "b"],
    )
    model = make("textgpt", epochs=2, verbose=False, **TINY).fit(texts)
    seqs = model._encode(texts)
    base = model._base
    assert all(int((s >= base).sum()) == 2 for s in seqs)  # only the label token and the final eos


def test_hf_causal_lm_tiny_random_model(tmp_path, small):
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(small[0].texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(tmp_path / "tiny")
    config = GPT2Config(vocab_size=fast.vocab_size, n_positions=128, n_embd=32, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "tiny")
    params = {"model": str(tmp_path / "tiny"), "local_files_only": True, "epochs": 2, "batch_size": 16}
    model = make("hf-causal-lm", block_size=24, verbose=False, **params).fit(small[0].subset(np.arange(120)))
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]
    out = model.sample(6, conditions={"label": "spam"}, seed=1)
    assert (
        out.label_names() == ["spam"] * 6
        and out.texts == model.sample(6, conditions={"label": "spam"}, seed=1).texts
    )
    model.save(tmp_path / "saved")
    (tmp_path / "tiny" / "model.safetensors").unlink()  # the saved simulacra model needs no source folder
    again = BaseSynthesizer.load(tmp_path / "saved")
    assert again.sample(6, conditions={"label": "spam"}, seed=1).texts == out.texts
    assert np.isfinite(again.perplexity(small[1].subset(np.arange(20)))["perplexity"])
    with pytest.raises(ConfigError, match="`params` model="):
        make("hf-causal-lm")  # no default model: nothing is downloaded unless a user names one
    originals = small[1].subset(np.arange(8))
    rewritten = again.rewrite(originals, keep=0.5, seed=2)  # paraphrasing through the fitted LM
    assert rewritten.labels.tolist() == originals.labels.tolist()
    assert rewritten.texts == again.rewrite(originals, keep=0.5, seed=2).texts
    for old, new in zip(originals.texts, rewritten.texts, strict=True):
        head = old.split()[: max(1, round(0.5 * len(old.split())))]
        assert new.split()[: len(head) - 1] == head[:-1]  # the kept start (its last word may run on)


def test_eda_ops_change_what_they_claim(small):
    from simulacra.augment.text import KEYBOARD, TextAugmenter, augment_texts

    texts = small[0]

    def run(op, p, copies=1, seed=0):
        return augment_texts(texts, TextAugmenter([{"op": op, "p": p}]), copies=copies, seed=seed)

    swapped = run("random_swap", 0.2)
    assert all(
        sorted(a.split()) == sorted(b.split()) for a, b in zip(texts.texts, swapped.texts, strict=True)
    )
    assert sum(a != b for a, b in zip(texts.texts, swapped.texts, strict=True)) > 200
    deleted = run("random_deletion", 0.3)
    assert all(
        len(b.split()) <= max(1, len(a.split())) for a, b in zip(texts.texts, deleted.texts, strict=True)
    )
    assert sum(len(b.split()) for b in deleted.texts) < 0.8 * sum(len(a.split()) for a in texts.texts)
    inserted = run("random_insertion", 0.1)
    assert sum(len(b.split()) > len(a.split()) for a, b in zip(texts.texts, inserted.texts, strict=True)) > 50
    replaced = run("synonym_replacement", 0.1)
    assert all(len(a.split()) == len(b.split()) for a, b in zip(texts.texts, replaced.texts, strict=True))
    assert sum(a != b for a, b in zip(texts.texts, replaced.texts, strict=True)) > 50
    typos = run("keyboard_typos", 0.05)
    for a, b in zip(texts.texts, typos.texts, strict=True):
        a = " ".join(a.split())
        assert len(a) == len(b) and all(
            x == y or y.lower() in KEYBOARD[x.lower()] for x, y in zip(a, b, strict=True)
        )
    three = run("random_swap", 0.2, copies=3, seed=5)
    assert len(three) == 3 * len(texts) and three.label_names() == texts.label_names() * 3
    assert three.texts == run("random_swap", 0.2, copies=3, seed=5).texts
    with pytest.raises(ConfigError, match="op: one of"):
        TextAugmenter([{"op": "paraphrase_everything"}])
    with pytest.raises(ConfigError, match="p="):
        TextAugmenter([{"op": "random_swap", "p": 2}])


def test_text_metrics_on_reference_sets(small):
    from simulacra.evaluate.text import distinct_n, evaluate_texts, longest_shared_ngrams

    train, test = small
    ev = evaluate_texts(train, test, test, seed=0)
    f = ev.flat()
    assert f["detection_text"] > 0.7 and f["trtr_accuracy"] > 0.9  # real test texts pass as real
    refs = ev.details["references"]
    assert refs["random text"]["detection_text"] < 0.5 < f["detection_text"]
    assert refs["random text"]["frechet"] > f["frechet"]
    copies = evaluate_texts(train, train, test, references=False)
    assert copies.flat()["exact_copy_rate"] == 1.0 and copies.flat()["holdout_copy_rate"] < 0.2
    assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)
    assert longest_shared_ngrams(["the cat sat on the mat"], ["a cat sat on a hat", "dog"]).tolist() == [3, 0]


def test_cli_fit_sample_evaluate_augment(tmp_path, small, capsys):
    train = small[0]
    data = tmp_path / "train_sms"
    data.write_text("".join(f"{lab}\t{t}\n" for lab, t in zip(train.label_names(), train.texts, strict=True)))
    test = tmp_path / "test_sms"
    test.write_text(
        "".join(f"{lab}\t{t}\n" for lab, t in zip(small[1].label_names(), small[1].texts, strict=True))
    )
    params = [a for k, v in {**TINY, "epochs": 2}.items() for a in ("--param", f"{k}={v}")]
    model = tmp_path / "model"
    assert main(["fit", str(data), "--model", "textgpt", *params, "-o", str(model)]) == 0
    out = tmp_path / "synth.jsonl"
    assert (
        main(
            ["sample", str(model), "-n", "30", "--condition", "label=spam", "-o", str(out), "--top-p", "0.9"]
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 30 and {r["label"] for r in rows} == {"spam"}
    balanced = tmp_path / "balanced.csv"
    assert main(["sample", str(model), "-n", "40", "-o", str(balanced)]) == 0
    report = tmp_path / "report.html"
    args = [
        "evaluate",
        str(data),
        str(balanced),
        "--test",
        str(test),
        "--model",
        str(model),
        "-o",
        str(report),
    ]
    assert main(args) == 0
    table = tmp_path / "real.csv"  # real texts in a table with other column names, beside simulacra's samples
    pd.DataFrame({"body": train.texts, "kind": train.label_names()}).to_csv(table, index=False)
    named = ["--text-column", "body", "--label-column", "kind", "-o", str(tmp_path / "named.html")]
    assert main(["evaluate", str(table), str(balanced), "--test", str(test), *named]) == 0
    html = report.read_text()
    assert "Samples beside their nearest training text" in html and "shuffled words" in html
    assert chromium_plots(report, tmp_path)[:2] == (1, 1)  # the training curves render in a browser
    saved = json.loads(report.with_suffix(".json").read_text())
    assert {"fidelity", "diversity", "utility", "privacy", "likelihood"} <= set(saved["metrics"])
    copies = sum(n["is_copy"] for n in saved["details"]["neighbours"])
    assert html.count("<b>copy</b>") == copies < len(saved["details"]["neighbours"])
    pipeline = tmp_path / "text_aug.yaml"
    pipeline.write_text("steps:\n  - {op: random_swap, p: 0.1}\n  - {op: random_deletion, p: 0.1}\n")
    aug = tmp_path / "aug.jsonl"
    capsys.readouterr()
    args = [
        "augment",
        str(data),
        "--pipeline",
        str(pipeline),
        "--copies",
        "2",
        "--test",
        str(test),
        "-o",
        str(aug),
    ]
    assert main(args) == 0
    assert len(aug.read_text().splitlines()) == 600 and "TRTR" in capsys.readouterr().out
    pipeline.write_text(f"steps:\n  - {{op: lm_rewrite, model: {model}, keep: 0.5, p: 1}}\n")
    assert main(["augment", str(data), "--pipeline", str(pipeline), "-o", str(tmp_path / "lm.jsonl")]) == 0
    rewritten = [json.loads(line) for line in (tmp_path / "lm.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rewritten] == train.label_names()
    assert sum(r["text"] != t for r, t in zip(rewritten, train.texts, strict=True)) > 250
    pipeline.write_text("steps:\n  - {op: lm_rewrite, keep: 0.5}\n")
    # bad input: one line, exit 2, nothing written
    for bad, message in (
        (["sample", str(model), "-n", "5", "--top-p", "2", "-o", str(tmp_path / "x.jsonl")], "top_p"),
        (
            ["sample", str(model), "-n", "5", "--condition", "label=eggs", "-o", str(tmp_path / "x.jsonl")],
            "eggs",
        ),
        (["fit", str(data), "--model", "copula", "-o", str(tmp_path / "x")], "texts"),
        (
            ["sample", str(model), "-n", "5", "--balance", "label", "-o", str(tmp_path / "x.jsonl")],
            "class-balanced",
        ),
    ):
        capsys.readouterr()
        assert main(bad) == 2, bad
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and len(err.splitlines()) == 1
        assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x").exists()


def test_textgpt_keeps_the_epoch_with_the_lowest_validation_loss(small):
    """The number of epochs is chosen on held-out texts: the model keeps the best epoch's weights (its
    loss on those texts is the history's minimum, not the last epoch's) and early stopping watches it."""
    import math

    params = {**TINY, "learning_rate": 2e-2, "dropout": 0.0}
    model = make("textgpt", epochs=12, verbose=False, patience=None, validation=0.2, **params).fit(small[0])
    held = [h["validation"] for h in model.history_]
    assert model.epochs_trained_ == 12 and model.best_epoch_ == int(np.argmin(held)) + 1 < 12
    _, valid = model._validation_split(small[0])
    assert len(valid) == 60 and not set(valid.texts) - set(small[0].texts)
    assert math.isclose(math.log(model.perplexity(valid)["perplexity"]), min(held), rel_tol=1e-6)
    assert min(held) < held[-1]
    stopped = make("textgpt", epochs=12, verbose=False, patience=2, validation=0.2, **params).fit(small[0])
    assert stopped.epochs_trained_ == model.best_epoch_ + 2  # two epochs without a better loss


def test_the_near_copies_filter_redraws_texts_that_copy_training_texts(tmp_path):
    """A model that memorises a small corpus copies most of it; the filter (on by default) redraws
    every copy, up to case, spacing and punctuation, and keeps the class counts exact."""
    from simulacra.evaluate.text import copy_rate
    from simulacra.io.text import near_copy_key

    rng = np.random.default_rng(0)
    words = ["call", "free", "prize", "now", "win", "cash", "text", "stop", "home", "late", "ok", "see"]
    base = [" ".join(rng.choice(words, 3)) for _ in range(12)]
    texts = TextSet([base[i % 12] for i in range(240)], np.arange(240) % 2, ["ham", "spam"])
    params = {**TINY, "vocab_size": 300}
    model = make("textgpt", epochs=30, verbose=False, validation=0.0, **params).fit(texts)
    kept = model.sample(200, seed=0, drop_copies=False)
    assert copy_rate(texts.texts, kept.texts) > 0.3
    clean = model.sample(200, seed=0)
    keys = {near_copy_key(t) for t in texts.texts}
    assert model.copies_dropped_ > 0 and not {near_copy_key(t) for t in clean.texts} & keys
    assert clean.class_counts() == [100, 100] and clean.texts == model.sample(200, seed=0).texts
    model.save(tmp_path / "m")
    saved = (tmp_path / "m" / "state.json").read_text()
    assert not any(t in saved for t in base)  # digests, not the texts
    assert BaseSynthesizer.load(tmp_path / "m").sample(200, seed=0).texts == clean.texts
    assert near_copy_key("Call me NOW!!") == near_copy_key("call  me now")


def test_text_label_filter_keeps_only_texts_the_real_classifier_does_not_contradict(small, tiny_gpt):
    from simulacra.experiments.filters import filtered_texts, text_label_judge

    train, _ = small
    kept, records = filtered_texts(tiny_gpt, 40, 0.7, train, seed=3)
    assert len(kept) == 40 and np.bincount(kept.labels).tolist() == [20, 20]  # balanced, exact
    assert sum(r.dropped for r in records) > 0  # the eight-epoch model writes some off-class messages
    proba = text_label_judge(train, train.class_names, seed=3)(kept)  # (40, 2)
    contradicted = (proba.argmax(1) != kept.labels) & (proba.max(1) >= 0.7)
    assert not contradicted.any()  # what the judge contradicts never reaches the output
    again, _ = filtered_texts(tiny_gpt, 40, 0.7, train, seed=3)
    assert again.texts == kept.texts  # the same seed, the same texts
