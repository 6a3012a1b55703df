"""Kornia image pipelines on real MNIST digits: every op changes images as it should, seeds reproduce."""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulacra.augment import OPS, ImageAugmenter, augment_images
from simulacra.datasets import load
from simulacra.errors import ConfigError
from simulacra.io import ImageSet


@pytest.fixture(scope="module")
def digits() -> ImageSet:
    return load("mnist")[1].subset(np.arange(64))


@pytest.mark.parametrize("op", sorted(set(OPS) - {"grayscale", "restore"}))  # restore: test_restoration.py
def test_each_op_changes_images_and_keeps_shape_dtype_labels(digits, op):
    out = augment_images(digits, ImageAugmenter([{"op": op, "p": 1.0}]), copies=2, seed=0)
    assert out.images.shape == (128, 1, 28, 28) and out.images.dtype == np.uint8
    assert np.array_equal(out.labels, np.tile(digits.labels, 2))
    changed = (out.images[:64] != digits.images).reshape(64, -1).any(axis=1)
    assert changed.mean() > 0.9  # p = 1: (nearly) every image is altered
    if op == "hflip":
        assert np.array_equal(out.images[:64], digits.images[..., ::-1])
    if op == "salt_pepper":
        flipped = (out.images[:64] != digits.images).mean()
        assert 0.005 < flipped < 0.05  # amount 0.02 of the pixels (some already 0 or 255)


def test_pipeline_from_yaml_is_seeded_and_deterministic(digits, tmp_path):
    path = tmp_path / "aug.yaml"
    path.write_text(
        "steps:\n  - {op: rotate, degrees: 20}\n  - {op: affine}\n  - {op: gaussian_noise, std: 0.1}\n"
    )
    aug = ImageAugmenter.from_yaml(path)
    a = augment_images(digits, aug, copies=3, seed=5, batch_size=16)
    b = augment_images(digits, aug, copies=3, seed=5, batch_size=16)
    c = augment_images(digits, aug, copies=3, seed=6, batch_size=16)
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.images[:64], a.images[64:128])  # copies differ from each other


def test_rgb_grayscale_and_bad_pipelines(digits, tmp_path):
    rgb = ImageSet(
        np.repeat(digits.images, 3, axis=1) // np.array([1, 2, 3], dtype=np.uint8)[None, :, None, None]
    )
    gray = augment_images(rgb, ImageAugmenter([{"op": "grayscale", "p": 1.0}]))
    assert (gray.images[:, 0] == gray.images[:, 1]).all() and (gray.images[:, 1] == gray.images[:, 2]).all()
    with pytest.raises(ConfigError, match="needs RGB"):
        augment_images(digits, ImageAugmenter([{"op": "grayscale"}]))
    with pytest.raises(ConfigError, match="give op: one of"):
        ImageAugmenter([{"op": "sharpen"}])
    with pytest.raises(ConfigError, match="unknown parameter 'angle'"):
        augment_images(digits, ImageAugmenter([{"op": "rotate", "angle": 3}]))
    with pytest.raises(ConfigError, match="copies"):
        augment_images(digits, ImageAugmenter([{"op": "hflip"}]), copies=0)


def test_augment_cli_writes_npz_and_png_folders(tmp_path, capsys):
    from simulacra.cli import main

    pipe = tmp_path / "aug.yaml"
    pipe.write_text("steps:\n  - {op: rotate, degrees: 10, p: 1.0}\n")
    small = load("mnist")[1].subset(np.arange(30))
    small.to_npz(tmp_path / "in.npz")
    assert (
        main(
            [
                "augment",
                str(tmp_path / "in.npz"),
                "--pipeline",
                str(pipe),
                "--copies",
                "2",
                "-o",
                str(tmp_path / "o.npz"),
            ]
        )
        == 0
    )
    out = ImageSet.read(tmp_path / "o.npz")
    assert len(out) == 60 and np.array_equal(out.labels, np.tile(small.labels, 2))
    strength = re.search(r"PSNR ([\d.]+) dB, SSIM ([\d.]+)", capsys.readouterr().out)
    assert 5 < float(strength.group(1)) < 40 and 0 < float(strength.group(2)) < 1  # rotated: changed, alike
    assert (
        main(["augment", str(tmp_path / "in.npz"), "--pipeline", str(pipe), "-o", str(tmp_path / "png")]) == 0
    )
    assert sum(1 for _ in (tmp_path / "png").rglob("*.png")) == 30
    assert (
        main(["augment", str(tmp_path / "in.npz"), "--pipeline", str(pipe), "-o", str(tmp_path / "png")]) == 2
    )
    assert main(["augment", "adult", "--pipeline", str(pipe), "-o", str(tmp_path / "x.npz")]) == 2


@pytest.mark.parametrize("op", ["mixup", "cutmix"])
def test_mixup_and_cutmix_mix_labels_as_they_mix_pixels(digits, op, tmp_path):
    out = augment_images(digits, ImageAugmenter([{"op": op, "p": 1.0}]), copies=2, seed=0)
    soft = out.soft_labels
    assert soft.shape == (128, 10) and soft.dtype == np.float32
    assert np.allclose(soft.sum(1), 1.0, atol=1e-5) and (soft >= 0).all()
    assert np.array_equal(out.labels, soft.argmax(1))
    mixed = soft.max(1) < 1.0
    assert mixed.mean() > 0.5  # p = 1: most images got a partner of another class
    own = soft[np.arange(64), digits.labels]  # the weight of each image's own class (first copy)
    changed = (out.images[:64] != digits.images).reshape(64, -1).mean(1)
    assert (changed[own < 1] > 0).all()  # a partner of another class shows in the pixels
    if op == "mixup":  # λ ≤ 0.4 by default
        assert (own >= 0.6 - 1e-6).all()
    else:  # on flat images of distinct grey levels, an image's own weight is exactly its kept area
        levels = np.arange(64, dtype=np.uint8)[:, None, None, None] * 3
        flat = ImageSet(np.broadcast_to(levels, (64, 1, 28, 28)).copy(), digits.labels)
        cut = augment_images(flat, ImageAugmenter([{"op": "cutmix", "p": 1.0}]), seed=0)
        kept = (cut.images == flat.images).reshape(64, -1).mean(1)
        weight = cut.soft_labels[np.arange(64), digits.labels]
        other = ~np.isclose(weight, 1.0)  # the partner is of another class
        assert other.sum() > 30 and np.allclose(weight[other], kept[other], atol=1e-6)
    again = augment_images(digits, ImageAugmenter([{"op": op, "p": 1.0}]), copies=2, seed=0)
    assert np.array_equal(out.images, again.images) and np.array_equal(out.soft_labels, again.soft_labels)
    out.to_npz(tmp_path / "mixed.npz")
    back = ImageSet.read(tmp_path / "mixed.npz")
    assert np.array_equal(back.soft_labels, out.soft_labels)
    half = augment_images(digits, ImageAugmenter([{"op": op, "p": 0.5}]), seed=1)
    assert 0.2 < (half.soft_labels.max(1) < 1).mean() < 0.8  # p is per image, not per batch
    unlabelled = augment_images(ImageSet(digits.images), ImageAugmenter([{"op": op, "p": 1.0}]))
    assert unlabelled.labels is None and unlabelled.soft_labels is None


def test_the_restore_op_needs_a_loaded_model(digits):
    with pytest.raises(ConfigError, match=r"restore: give the restoration model's folder"):
        augment_images(digits, ImageAugmenter([{"op": "restore"}]))
    with pytest.raises(ConfigError, match="restore: models/x: no model loaded"):
        augment_images(digits, ImageAugmenter([{"op": "restore", "model": "models/x"}]))
