"""The restoration model (denoise, inpaint, super-resolve) and its baselines, on the bundled CIFAR-10
subset (issue 33, part 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulacra.datasets import load
from simulacra.errors import ConfigError, DataError
from simulacra.evaluate.image import psnr_ssim
from simulacra.evaluate.restoration import baseline, evaluate_restoration
from simulacra.io import ImageSet
from simulacra.synthesizers import make

FAST = {"epochs": 2, "width": 16, "learning_rate": 3e-3, "batch_size": 32}


@pytest.fixture(scope="module")
def cifar():
    train, test = load("cifar10")
    return train.subset(np.arange(800)), test.subset(np.arange(100))


@pytest.fixture(scope="module")
def denoiser(cifar):
    return make("restore", task="denoise", **FAST).fit(cifar[0])


def test_the_denoiser_learns_to_remove_noise(denoiser, cifar):
    history = [h["loss"] for h in denoiser.history_]
    assert history[-1] < history[0]
    scores = evaluate_restoration(denoiser, cifar[1], seed=0)
    rows = scores["rows"]
    assert scores["baseline"] == "median filter 3×3" and scores["n"] == 100
    assert 19 < rows["degraded"]["psnr"] < 22  # σ = 0.1 of the pixel range: about 20 dB
    assert rows["baseline"]["psnr"] > rows["degraded"]["psnr"] + 1  # the median filter helps
    assert rows["model"]["psnr"] > rows["degraded"]["psnr"] + 2  # so does the model, after two epochs
    again = evaluate_restoration(denoiser, cifar[1], seed=0)
    assert again == scores  # the degradation is seeded, the restoration deterministic
    assert evaluate_restoration(denoiser, cifar[1], seed=1)["rows"]["degraded"] != rows["degraded"]


def test_save_load_and_the_verbs_refusals(denoiser, cifar, tmp_path):
    from simulacra.synthesizers import BaseSynthesizer

    denoiser.save(tmp_path / "m")
    back = BaseSynthesizer.load(tmp_path / "m")
    noisy, mask = denoiser.degrade(cifar[1], seed=3)
    assert mask is None and noisy.images.dtype == np.uint8 and noisy.labels is not None
    assert np.array_equal(back.restore(noisy).images, denoiser.restore(noisy).images)
    with pytest.raises(ConfigError, match="restores images, it does not draw new ones"):
        denoiser.sample(10)
    with pytest.raises(DataError, match=r"this denoise model takes \(3, 32, 32\); read them with size"):
        denoiser.restore(ImageSet(np.zeros((2, 3, 16, 16), np.uint8)))
    with pytest.raises(DataError, match="a mask is for inpainting"):
        denoiser.restore(noisy, np.zeros((100, 1, 32, 32), bool))


def test_super_resolution_and_inpainting(cifar):
    sr = make("restore", task="superres", scale=4, **FAST | {"epochs": 1}).fit(cifar[0])
    low, _ = sr.degrade(cifar[1])
    assert low.images.shape == (100, 3, 8, 8)
    assert sr.restore(low).images.shape == (100, 3, 32, 32)
    scores = evaluate_restoration(sr, cifar[1])
    assert scores["baseline"] == "bicubic upscaling" and "degraded" not in scores["rows"]
    assert 15 < scores["rows"]["baseline"]["psnr"] < 30

    painter = make("restore", task="inpaint", **FAST | {"epochs": 1}).fit(cifar[0])
    holed, mask = painter.degrade(cifar[1], seed=0)
    assert mask.shape == (100, 1, 32, 32) and mask.dtype == bool
    share = mask.mean(axis=(1, 2, 3))
    assert share.min() >= 0.25**2 - 1e-9 and share.max() <= 0.5**2 + 1e-9  # one rectangle, ¼ to ½ a side
    assert np.all(holed.images[np.broadcast_to(mask, holed.images.shape)] == 128)  # grey where missing
    restored = painter.restore(holed, mask)
    known = ~np.broadcast_to(mask, restored.images.shape)
    assert np.array_equal(restored.images[known], cifar[1].images[known])  # known pixels kept exactly
    with pytest.raises(DataError, match="inpainting needs the mask"):
        painter.restore(holed)
    with pytest.raises(DataError, match="sides divisible by 12"):
        make("restore", task="superres", scale=3, epochs=1).fit(cifar[0])


def test_baselines_do_what_they_promise():
    rng = np.random.default_rng(0)
    flat = np.full((4, 3, 32, 32), 90, np.uint8)
    salted = flat.copy()
    salted[:, :, rng.integers(0, 32, 20), rng.integers(0, 32, 20)] = 255  # isolated specks
    assert psnr_ssim(flat, baseline("denoise", salted))["psnr"] > psnr_ssim(flat, salted)["psnr"] + 10
    mask = np.zeros((4, 1, 32, 32), bool)
    mask[:, :, 8:24, 8:24] = True
    holed = np.where(mask, 0, flat).astype(np.uint8)
    assert np.array_equal(baseline("inpaint", holed, mask), flat)  # a flat image is filled exactly
    low = np.full((4, 3, 8, 8), 200, np.uint8)
    assert baseline("superres", low, scale=4).shape == (4, 3, 32, 32)


def test_restoration_bench_scores_model_and_baseline(cifar, tmp_path):
    from simulacra.cli import main

    cifar[0].to_npz(tmp_path / "train.npz")
    cifar[1].to_npz(tmp_path / "test.npz")
    args = ["bench", "--data", str(tmp_path / "train.npz"), "--test", str(tmp_path / "test.npz")]
    params = [f"--param={k}={v}" for k, v in (FAST | {"epochs": 1}).items()]
    assert main([*args, "--models", "restore", *params, "--rows", "50", "-o", str(tmp_path / "b")]) == 0
    bench = json.loads((tmp_path / "b" / "bench.json").read_text())["results"][0]
    assert bench["task"] == "denoise" and bench["restoration"]["n"] == 50
    assert set(bench["references"]) == {"degraded input", "median filter 3×3"}
    table = (tmp_path / "b" / "bench.md").read_text()
    assert "PSNR dB" in table and "reference: median filter 3×3" in table and "FID" not in table
    assert (tmp_path / "b" / "restore" / "examples.png").stat().st_size > 1000


def test_prepare_restores_a_folder_and_the_augment_op_makes_variants(denoiser, cifar, tmp_path, capsys):
    from simulacra.cli import main

    denoiser.save(tmp_path / "denoise")
    noisy, _ = denoiser.degrade(cifar[1], seed=0)
    noisy.to_folder(tmp_path / "noisy")
    out = tmp_path / "clean.npz"
    assert (
        main(["prepare", str(tmp_path / "noisy"), "--restore", str(tmp_path / "denoise"), "-o", str(out)])
        == 0
    )
    assert "restored 100 images (denoise)" in capsys.readouterr().out
    clean = ImageSet.read(out)
    order = np.argsort(noisy.labels, kind="stable")  # the folder is read class by class
    gain = (
        psnr_ssim(cifar[1].images[order], clean.images)["psnr"]
        - psnr_ssim(cifar[1].images, noisy.images)["psnr"]
    )
    assert gain > 2 and clean.class_names == ["airplane", "automobile"]  # the first 100 test images
    # refusals: a generator for --restore, table options beside it, an inpainting model, a table
    make("dcgan", epochs=1).fit(cifar[0].subset(np.arange(64))).save(tmp_path / "gan")
    for args, message in [
        (["--restore", str(tmp_path / "gan")], "holds a dcgan model, not a restoration model"),
        (["--restore", str(tmp_path / "denoise"), "--split", "random"], "--split: for cleaning tables"),
        (["--restore", str(tmp_path / "nothing")], "nothing: not a model folder"),
    ]:
        assert main(["prepare", str(tmp_path / "noisy"), *args, "-o", str(tmp_path / "x.npz")]) == 2
        assert message in capsys.readouterr().err
    assert main(["prepare", "adult", "--restore", str(tmp_path / "denoise"), "-o", str(tmp_path / "t")]) == 2
    assert "holds rows" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "t").exists()

    (tmp_path / "aug.yaml").write_text(f"steps:\n  - {{op: restore, model: {tmp_path / 'denoise'}, p: 1}}\n")
    args = ["augment", str(out), "--pipeline", str(tmp_path / "aug.yaml"), "--copies", "2"]
    assert main([*args, "-o", str(tmp_path / "aug.npz")]) == 0
    variants = ImageSet.read(tmp_path / "aug.npz")
    assert len(variants) == 200 and not np.array_equal(variants.images[:100], variants.images[100:])
    assert 20 < psnr_ssim(np.tile(clean.images, (2, 1, 1, 1)), variants.images)["psnr"] < 60
    (tmp_path / "bad.yaml").write_text(f"steps:\n  - {{op: restore, model: {tmp_path / 'gan'}}}\n")
    assert (
        main(["augment", str(out), "--pipeline", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "b.npz")])
        == 2
    )
    assert "holds a dcgan model, not a restoration model" in capsys.readouterr().err
