"""ImageSet I/O on the bundled MNIST subset: IDX, NPZ and PNG folders, and the 8,000 / 2,000 split."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from simulacra.datasets import load
from simulacra.errors import DataError, OutputExistsError
from simulacra.io import ImageSet


@pytest.fixture(scope="module")
def mnist():
    return load("mnist")


def test_mnist_is_bundled_and_split_by_label(mnist):
    train, test = mnist
    assert (len(train), len(test)) == (8000, 2000)
    assert train.images.dtype == np.uint8 and train.images.shape[1:] == (1, 28, 28)
    assert train.class_names == [str(i) for i in range(10)]
    assert 0 < train.images.mean() < 60 and train.images.max() == 255  # dark background, white strokes
    shares = [np.bincount(part.labels, minlength=10) / len(part) for part in mnist]
    assert np.abs(shares[0] - shares[1]).max() < 0.002  # stratified
    again = load("mnist")
    assert np.array_equal(again[1].images, test.images)  # fixed seed


def test_npz_and_png_folder_round_trips(mnist, tmp_path):
    small = mnist[1].subset(np.arange(60))
    small.to_npz(tmp_path / "s.npz")
    back = ImageSet.read(tmp_path / "s.npz")
    assert np.array_equal(back.images, small.images) and np.array_equal(back.labels, small.labels)
    with pytest.raises(OutputExistsError):
        small.to_npz(tmp_path / "s.npz")
    small.to_folder(tmp_path / "png")
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [".simulacra"] + [
        str(i) for i in range(10)
    ]
    folder = ImageSet.read(tmp_path / "png")
    order = np.argsort(small.labels, kind="stable")  # the folder reads class by class
    assert np.array_equal(folder.images, small.images[order]) and np.array_equal(
        folder.labels, small.labels[order]
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


def test_bad_image_input(tmp_path, mnist):
    with pytest.raises(DataError, match="uint8"):
        ImageSet(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(DataError, match="labels must have shape"):
        ImageSet(mnist[1].images[:3], np.array([1, 2]))
    bad = tmp_path / "x.idx.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x08\x03" + np.array([5, 28, 28], dtype=">i4").tobytes() + b"\x00" * 100)
    with pytest.raises(DataError, match="truncated"):
        ImageSet.read(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        ImageSet.read(tmp_path / "empty")


def test_tabular_commands_refuse_the_image_dataset(capsys):
    from simulacra.cli import main

    assert main(["inspect", "mnist"]) == 2
    assert "image dataset" in capsys.readouterr().err
    assert main(["datasets"]) == 0
    assert "mnist" in capsys.readouterr().out
