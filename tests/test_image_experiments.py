"""Synthetic data for training on images: the mixing experiment with the local CNN, the label filter and
the sampling temperature, on a few hundred real MNIST digits and one-epoch models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simulacra import datasets
from simulacra.cli import main
from simulacra.errors import ConfigError
from simulacra.evaluate.image import real_classifier
from simulacra.experiments.filters import filtered_images
from simulacra.experiments.mix import image_mixing_curves
from simulacra.synthesizers import make


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """600 training and 300 test digits, class-stratified, and 2,000 for the label filter's judge; the
    classifier cache in a temporary folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SIMULACRA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    train, test = datasets.load("mnist")
    yield _pick(train, 60), _pick(test, 30), _pick(train, 200)
    mp.undo()


def _pick(images, per_class):
    return images.subset(
        np.sort(np.concatenate([np.flatnonzero(images.labels == c)[:per_class] for c in range(10)]))
    )


@pytest.fixture(scope="module")
def cvae(digits):
    """A conditional VAE of 8 epochs on the 600 digits: blurry, often recognisable digits."""
    return make("cvae", epochs=8, batch_size=32, verbose=False, seed=0).fit(digits[0])


def test_image_mixing_curves_rows_and_verdicts(digits):
    train, test, _ = digits
    res = image_mixing_curves(
        train,
        test,
        model="cgan",
        params={"epochs": 1, "batch_size": 32, "verbose": False},
        fractions=[0.5, 1.0],
        ratios=[0, 1],
        repeats=1,
        min_cnn_steps=30,  # real digits reach about 0.8 accuracy by then, the one-epoch GAN about 0.1
    )
    r = res.results
    # 2 fractions × (real, real+synthetic ×1, synthetic only) × 3 metrics, one downstream CNN
    assert len(r) == 2 * 3 * 3 and set(r.downstream) == {"cnn"}
    assert set(r.metric) == {"accuracy", "macro_f1", "balanced_accuracy"}
    half = r[(r.fraction == 0.5) & (r.metric == "accuracy")].set_index("variant")
    assert half.loc["real", "n_real"] == 300 and half.loc["real+synthetic", "n_synthetic"] == 300
    # 300 real digits teach the CNN far more than one epoch of a GAN does
    assert (
        half.loc["real", "value"] > 0.6 and half.loc["real", "value"] > half.loc["synthetic", "value"] + 0.2
    )
    lines = res.verdicts("cnn")
    assert len(lines) == 2 and "(300 images)" in lines[0] and "One repeat" in lines[0]
    with pytest.raises(ConfigError, match="class-conditional"):
        image_mixing_curves(train, test, model="dcgan", fractions=[1.0], repeats=1)


def test_image_label_filter_keeps_counts_and_drops_contradicted_digits(digits, cvae):
    _, _, judged = digits  # the CNN that judges is trained on 2,000 real digits: a confident judge
    images, records = filtered_images(cvae, 105, 0.7, judged, seed=0)
    assert len(images) == 105 and np.bincount(images.labels).tolist() == [11] * 5 + [10] * 5
    cnn = real_classifier(judged)
    with torch.inference_mode():
        proba = torch.softmax(cnn(torch.from_numpy(images.images)), 1).numpy()
    best = proba.argmax(1)
    assert not ((best != images.labels) & (proba.max(1) >= 0.7)).any()
    assert sum(r.dropped for r in records) > 0  # an 8-epoch VAE draws digits the CNN disowns
    sevens, _ = filtered_images(cvae, 20, 0.7, judged, label="7", seed=1)
    assert (sevens.labels == 7).all() and len(sevens) == 20
    with pytest.raises(ConfigError, match="confidence"):
        filtered_images(cvae, 10, 0.3, judged)


def test_image_temperature_scales_the_latent(cvae, tmp_path):
    cold, warm = cvae.sample(200, seed=0, temperature=0.3), cvae.sample(200, seed=0, temperature=2.0)
    base = cvae.sample(200, seed=0)
    assert np.array_equal(base.labels, cold.labels)
    # a colder latent: digits closer to each other (less spread per pixel)
    spread = lambda s: float(s.images.reshape(len(s), -1).astype(np.float32).std(0).mean())  # noqa: E731
    assert spread(cold) < spread(base) < spread(warm)
    model = tmp_path / "cvae"
    cvae.save(model)
    assert main(["sample", str(model), "-n", "20", "--temperature", "11", "-o", str(tmp_path / "x.npz")]) == 2
    assert not (tmp_path / "x.npz").exists()


def test_cli_mix_on_images_refuses_table_options(tmp_path, capsys):
    for extra, message in [
        (["--balance", "label"], "works on tables"),
        (["--workers", "2"], "drop it for images"),
        (["--model", "copula"], "is a table model"),
        (["--model", "dcgan", "--fractions", "1", "--repeats", "1"], "not a class-conditional image model"),
    ]:
        assert main(["mix", "mnist", "-o", str(tmp_path / "out"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "out").exists()
