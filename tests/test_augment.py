"""Kornia image pipelines on real MNIST digits: every op changes images as it should, seeds reproduce."""

from __future__ import annotations

import numpy as np
import pytest

from simulacra.augment import OPS, ImageAugmenter, augment_images
from simulacra.datasets import load
from simulacra.errors import ConfigError
from simulacra.io import ImageSet


@pytest.fixture(scope="module")
def digits() -> ImageSet:
    return load("mnist")[1].subset(np.arange(64))


@pytest.mark.parametrize("op", sorted(set(OPS) - {"grayscale"}))
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
    with pytest.raises(ConfigError, match="'rotate'"):
        augment_images(digits, ImageAugmenter([{"op": "rotate", "angle": 3}]))
    with pytest.raises(ConfigError, match="copies"):
        augment_images(digits, ImageAugmenter([{"op": "hflip"}]), copies=0)


def test_augment_cli_writes_npz_and_png_folders(tmp_path):
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
    assert (
        main(["augment", str(tmp_path / "in.npz"), "--pipeline", str(pipe), "-o", str(tmp_path / "png")]) == 0
    )
    assert sum(1 for _ in (tmp_path / "png").rglob("*.png")) == 30
    assert (
        main(["augment", str(tmp_path / "in.npz"), "--pipeline", str(pipe), "-o", str(tmp_path / "png")]) == 2
    )
    assert main(["augment", "adult", "--pipeline", str(pipe), "-o", str(tmp_path / "x.npz")]) == 2
