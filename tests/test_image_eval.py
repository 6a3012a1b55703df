"""Image metrics on real MNIST digits (local classifier, FID/KID, precision/recall, TSTR, memorisation,
PSNR/SSIM), the image report, and the fit → sample → evaluate CLI on images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from helpers import chromium_plots
from simulacra import datasets
from simulacra.errors import DataError
from simulacra.evaluate.image import (
    blurred,
    evaluate_images,
    memorisation,
    noise,
    psnr_ssim,
    real_classifier,
    train_classifier,
)
from simulacra.io import ImageSet


@pytest.fixture(scope="module")
def parts(tmp_path_factory, monkeypatch_module):
    """1,000 real training and 300 real test digits; the classifier cache in a temporary folder."""
    monkeypatch_module.setenv("SIMULACRA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    train, test = datasets.load("mnist")
    rng = np.random.default_rng(0)
    return (
        train.subset(np.sort(rng.choice(len(train), 1000, replace=False))),
        test.subset(np.sort(rng.choice(len(test), 300, replace=False))),
    )


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_classifier_learns_digits_and_is_cached(parts):
    train, test = parts
    model = real_classifier(train, epochs=5)
    acc = float((model(__import__("torch").from_numpy(test.images)).argmax(1).numpy() == test.labels).mean())
    assert acc > 0.8  # 1,000 digits, 5 epochs (chance: 0.1)
    again = real_classifier(train, epochs=5)  # from the cache: the same weights
    assert all(
        (a == b).all() for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )
    with pytest.raises(DataError, match="labelled"):
        train_classifier(ImageSet(train.images[:10]))


def test_metrics_order_real_blurred_noise_and_flag_copies(parts):
    train, test = parts
    copies = train.subset(np.arange(300))  # "synthetic" images that are training images
    ev = evaluate_images(train, copies, test, classifier_epochs=5, reconstructions=(test.images, test.images))
    refs = ev.details["references"]
    assert refs["real test"]["fid"] < refs["blurred real"]["fid"] < refs["noise"]["fid"]
    assert refs["real test"]["precision"] > 0.6 and refs["noise"]["recall"] < 0.05
    assert ev.metrics["utility"]["label_agreement"] > 0.8 and ev.metrics["utility"]["trtr_accuracy"] > 0.8
    assert ev.metrics["utility"]["tstr_accuracy"] > 0.5  # trained on 300 real digits
    assert ev.metrics["privacy"]["nn_distance_ratio"] < 0.01 and ev.metrics["privacy"]["near_copy_rate"] == 1
    assert (
        ev.metrics["reconstruction"]["ssim"] == pytest.approx(1.0)
        and ev.metrics["reconstruction"]["psnr"] == 100
    )
    assert 0.8 < ev.metrics["fidelity"]["class_balance"] <= 1.0


def test_memorisation_and_psnr_of_honest_images(parts):
    train, test = parts
    mem = memorisation(train.images, test.images[:150], test.images[150:])
    assert 0.8 < mem["nn_distance_ratio"] < 1.25 and mem["near_copy_rate"] < 0.05
    soft = psnr_ssim(test.images, blurred(test.images, sigma=1.0))
    harsh = psnr_ssim(test.images, noise(test.images.shape))
    assert soft["psnr"] > harsh["psnr"] and soft["ssim"] > harsh["ssim"]
    with pytest.raises(DataError, match="same shape"):
        psnr_ssim(test.images, test.images[:5])


def test_unconditional_images_skip_tstr_and_bad_shapes_are_refused(parts):
    train, test = parts
    unlabelled = ImageSet(test.images[:100])
    ev = evaluate_images(train, unlabelled, test, classifier_epochs=5)
    assert "tstr_accuracy" not in ev.metrics["utility"] and "unconditional" in ev.skipped["tstr"]
    with pytest.raises(DataError, match="same size"):
        evaluate_images(train, ImageSet(np.zeros((10, 1, 32, 32), np.uint8)), test)


def test_unlabelled_real_images_are_scored_on_a_random_embedding(parts, tmp_path):
    from simulacra.cli import main

    train, test = parts
    real, held = ImageSet(train.images), ImageSet(test.images)  # no labels anywhere
    ev = evaluate_images(real, ImageSet(train.images[:300]), held)
    refs = ev.details["references"]
    assert refs["real test"]["fid"] < refs["blurred real"]["fid"] < refs["noise"]["fid"]  # still ordered
    assert ev.details["classifier"]["weights"].startswith("random") and "utility" not in ev.metrics
    assert "class_balance" not in ev.metrics["fidelity"] and "no labels" in ev.skipped["tstr"]
    assert ev.metrics["privacy"]["near_copy_rate"] == 1  # copies are still caught, in pixel space
    again = evaluate_images(real, ImageSet(train.images[:300]), held)
    assert again.metrics["fidelity"] == ev.metrics["fidelity"]  # the random weights are seeded
    real.to_npz(tmp_path / "real.npz")
    held.to_npz(tmp_path / "held.npz")
    ImageSet(test.images[:100]).to_npz(tmp_path / "synth.npz")
    report = tmp_path / "report.html"
    args = ["evaluate", str(tmp_path / "real.npz"), str(tmp_path / "synth.npz"), "-o", str(report)]
    assert main([*args, "--test", str(tmp_path / "held.npz")]) == 0
    metrics = json.loads(report.with_suffix(".json").read_text())
    assert metrics["metrics"]["fidelity"]["fid"] > 0 and "tstr" in metrics["skipped"]


def test_cli_fit_sample_evaluate_on_images(parts, tmp_path):
    from simulacra.cli import main

    train, test = parts
    train.to_npz(tmp_path / "train.npz")
    test.to_npz(tmp_path / "test.npz")
    model = tmp_path / "cvae"
    args = ["fit", str(tmp_path / "train.npz"), "--model", "cvae", "-o", str(model)]
    assert main([*args, "--param", "epochs=2", "--param", "grid_every=1"]) == 0
    assert (model / "samples" / "epoch_002.png").is_file()
    assert main(["sample", str(model), "-n", "200", "-o", str(tmp_path / "synth.npz")]) == 0
    with np.load(tmp_path / "synth.npz") as npz:
        assert npz["images"].shape == (200, 1, 28, 28) and npz["images"].dtype == np.uint8
        assert np.bincount(npz["labels"]).tolist() == [20] * 10
    assert (
        main(["sample", str(model), "-n", "12", "--condition", "label=3", "-o", str(tmp_path / "threes")])
        == 0
    )
    assert len(list((tmp_path / "threes" / "3").glob("*.png"))) == 12
    report = tmp_path / "report.html"
    evaluate = ["evaluate", str(tmp_path / "train.npz"), str(tmp_path / "synth.npz"), "-o", str(report)]
    assert main([*evaluate, "--test", str(tmp_path / "test.npz"), "--model", str(model)]) == 0
    metrics = json.loads(report.with_suffix(".json").read_text())
    assert set(metrics["details"]["references"]) == {"real test", "blurred real", "noise"}
    assert metrics["metrics"]["utility"]["tstr_accuracy"] > 0.1 and len(metrics["history"]) == 2
    html = report.read_text()
    assert "noise" in html and "Nearest training images" in html and "http" not in html.split("<body")[1]
    assert main([*evaluate, "--test", str(tmp_path / "test.npz")]) == 2  # the report exists: no --force
    assert (
        main(["fit", "adult", "--model", "cgan", "-o", str(tmp_path / "x")]) == 2
    )  # a table for an image model
    assert main(["fit", str(tmp_path / "train.npz"), "--model", "copula", "-o", str(tmp_path / "y")]) == 2
    if shutil.which("chromium"):
        expected, rendered, _ = chromium_plots(report, tmp_path)
        assert rendered == expected
