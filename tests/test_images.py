"""ImageSet I/O on the bundled MNIST subset: IDX, NPZ and PNG folders, and the 8,000 / 2,000 split."""

from __future__ import annotations

import gzip
import json

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
    with pytest.raises(DataError, match=r"no \.png.* pictures in it or in class sub-folders; put"):
        ImageSet.read(tmp_path / "empty")


def test_tabular_commands_refuse_the_image_dataset(capsys):
    from simulacra.cli import main

    assert main(["inspect", "mnist"]) == 2
    assert "image dataset" in capsys.readouterr().err
    assert main(["datasets"]) == 0
    assert "mnist" in capsys.readouterr().out


# ------------------------------------------------------------------ real folders (issue 33, part 1)
@pytest.fixture(scope="module")
def cifar():
    return load("cifar10")


def test_cifar10_is_bundled_and_split_by_label(cifar):
    train, test = cifar
    assert (len(train), len(test)) == (2400, 600)
    assert train.images.shape[1:] == (3, 32, 32) and train.class_names[0] == "airplane"
    assert np.bincount(test.labels).tolist() == [60] * 10
    channel_gap = np.abs(train.images[:, 0].astype(int) - train.images[:, 2]).mean()
    assert channel_gap > 5  # colour, not grey repeated over three channels
    assert train.rule == "3,000 images at 32×32 RGB, as read"


def _save(path, pixels, **kwargs):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)


def test_a_folder_of_mixed_sizes_and_modes_is_brought_to_one_size_by_a_recorded_rule(cifar, tmp_path):
    from PIL import Image

    photo = cifar[1].images[0].transpose(1, 2, 0)  # (32, 32, 3)
    cls = tmp_path / "set"
    _save(cls / "a" / "plain.png", photo)
    _save(cls / "a" / "grey.png", photo[:, :, 0])
    wide = np.full((32, 32), 257 * 100, np.uint16)
    wide[0, 0] = 65535
    _save(cls / "a" / "wide.png", wide)  # 16-bit grey (I;16)
    clear = np.zeros((32, 32, 4), np.uint8)
    clear[:, :16] = [10, 20, 30, 255]  # left half opaque, right half fully transparent
    _save(cls / "b" / "alpha.png", clear)
    Image.fromarray(photo).quantize(64).save(cls / "b" / "palette.png")  # mode P, an adaptive palette
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(photo).save(cls / "b" / "turned.png", exif=exif)
    big = np.repeat(np.repeat(photo, 2, axis=0), 3, axis=1)  # 64×96: another size and aspect ratio
    _save(cls / "b" / "big.jpg", big, quality=95)

    images = ImageSet.read(cls)
    assert images.images.shape == (7, 3, 32, 32) and images.class_names == ["a", "b"]
    assert images.labels.tolist() == [0] * 3 + [1] * 4
    px = {
        name: images.images[i].transpose(1, 2, 0)
        for i, name in enumerate(["grey", "plain", "wide", "alpha", "big", "palette", "turned"])
    }
    assert np.array_equal(px["plain"], photo)
    assert np.array_equal(px["grey"], np.repeat(photo[:, :, :1], 3, axis=2))
    assert (
        px["wide"][0, 0].tolist() == [255] * 3 and px["wide"][5, 5].tolist() == [100] * 3
    )  # scaled, not clipped
    assert px["alpha"][0, 0].tolist() == [10, 20, 30] and px["alpha"][0, 31].tolist() == [255] * 3  # on white
    assert np.array_equal(px["turned"], np.rot90(photo, k=-1))  # upright, as a viewer shows it
    # 64×96 scaled to 32×48 (the shorter side fits), then the centre 32 columns: photo columns 5…26
    assert np.abs(px["big"].astype(int) - np.repeat(photo, 3, axis=1)[:, 16:80:2]).mean() < 20
    assert np.abs(px["palette"].astype(int) - photo).mean() < 6  # palette quantisation only
    assert images.rule == (
        "7 images at 32×32 RGB: 1 resized (shorter side to fit, centre cropped), 1 turned upright by their "
        "EXIF orientation, 1 scaled from 16 or 32 bits to 8, 1 with transparency composited on white, "
        "2 grey repeated over three channels"
    )
    # a declared size and channel count, and the pad rule: nothing cut, black borders
    small = ImageSet.read(cls, size=(16, 24), channels=1, fit="pad")
    assert (
        small.images.shape == (7, 1, 16, 24)
        and "7 resized (longer side to fit, padded with black)" in small.rule
    )
    tall = ImageSet.read(cls / "a", size=(32, 16), fit="pad")  # a flat folder: 32×32 into 32 high × 16 wide
    assert tall.labels is None and tall.images[:, :, :8].max() == 0 and tall.images[:, :, 24:].max() == 0
    cropped = ImageSet.read(cls / "a", size=(32, 16))  # crop: the centre columns, full height
    assert np.abs(cropped.images[1].transpose(1, 2, 0).astype(int) - photo[:, 8:24]).mean() < 1
    for bad, match in [
        ({"size": 0}, "image size 0"),
        ({"size": (32, 32, 3)}, "image size"),
        ({"channels": 2}, "channels 2: give 1"),
        ({"fit": "stretch"}, "fit 'stretch': give one of crop, pad"),
    ]:
        with pytest.raises(DataError, match=match):
            ImageSet.read(cls, **bad)


def test_flat_folders_tables_of_paths_and_refusals(cifar, tmp_path):
    subset = cifar[1].subset(np.arange(0, 600, 60))  # one image per class, in class order
    subset.to_folder(tmp_path / "classes")
    flat = tmp_path / "flat"
    flat.mkdir()
    rows = []
    for i, (name, picture) in enumerate(
        sorted((p.parent.name, p) for p in (tmp_path / "classes").glob("*/*.png"))
    ):
        target = flat / f"{i:02d}_{name}.png"
        target.write_bytes(picture.read_bytes())
        rows.append(f"flat/{target.name},{name}")
    unlabelled = ImageSet.read(flat)
    assert unlabelled.labels is None and len(unlabelled) == 10
    (tmp_path / "list.csv").write_text("file,kind\n" + "\n".join(rows) + "\n")
    listed = ImageSet.read_table(tmp_path / "list.csv", "file", label_column="kind")
    assert listed.class_names == sorted(subset.class_names) and np.array_equal(
        listed.images, unlabelled.images
    )
    assert [listed.class_names[y] for y in listed.labels] == [r.split(",")[1] for r in rows]
    with pytest.raises(DataError, match="no column 'label'; its columns are: file, kind"):
        ImageSet.read_table(tmp_path / "list.csv", "file", label_column="label")
    (tmp_path / "gone.csv").write_text("file\nflat/missing.png\n")
    with pytest.raises(DataError, match=r"row 1: flat/missing\.png: file not found"):
        ImageSet.read_table(tmp_path / "gone.csv", "file")
    (tmp_path / "classes" / "stray.png").write_bytes((flat / "00_airplane.png").read_bytes())
    with pytest.raises(DataError, match="1 pictures beside 10 class folders; move them"):
        ImageSet.read(tmp_path / "classes")
    (flat / "broken.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match=r"broken\.png: not a readable image"):
        ImageSet.read(flat)


def test_the_default_image_model_follows_the_labels(cifar, tmp_path, capsys):
    from simulacra.modalities import of_source

    cifar[1].subset(np.arange(20)).to_folder(tmp_path / "classes")
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, p in enumerate(sorted((tmp_path / "classes").glob("*/*.png"))):
        (flat / f"{i}.png").write_bytes(p.read_bytes())
    ImageSet(cifar[1].images[:20]).to_npz(tmp_path / "plain.npz")
    chosen = {
        src: of_source(str(src)).model_for(str(src))
        for src in ("cifar10", tmp_path / "classes", flat, tmp_path / "plain.npz")
    }
    assert list(chosen.values()) == ["cgan", "cgan", "dcgan", "dcgan"]
    from simulacra.cli import main

    assert main(["fit", str(flat), "-o", str(tmp_path / "m"), "--param", "epochs=1"]) == 0  # no --model
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"] == "dcgan"
    assert "read 20 images at 32×32 RGB, as read" in capsys.readouterr().err


def test_the_cli_reads_a_table_of_picture_paths(cifar, tmp_path, capsys):
    from simulacra.cli import main
    from simulacra.modalities import of_source

    two = cifar[1].subset(np.arange(40, 80))  # airplanes and automobiles
    two.to_folder(tmp_path / "pics")
    rows = [
        f"pics/{p.parent.name}/{p.name},{p.parent.name}" for p in sorted((tmp_path / "pics").glob("*/*.png"))
    ]
    (tmp_path / "list.csv").write_text("file,kind\n" + "\n".join(rows) + "\n")
    table = str(tmp_path / "list.csv")
    assert of_source(table).name == "table" and of_source(table, path_column="file").name == "image"
    args = ["fit", table, "--path-column", "file", "--label-column", "kind", "--param", "epochs=1"]
    assert main([*args, "-o", str(tmp_path / "m")]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"] == "cgan"
    assert "read 40 images at 32×32 RGB, as read" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "m"), "-n", "10", "-o", str(tmp_path / "s.npz")]) == 0
    assert ImageSet.read(tmp_path / "s.npz").class_names == ["airplane", "automobile"]
    assert main(["fit", table, "--path-column", "nope", "-o", str(tmp_path / "n")]) == 2
    assert "no column 'nope'; its columns are: file, kind" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()


def test_the_cli_declares_the_size_channels_and_rule(cifar, tmp_path, capsys):
    from simulacra.cli import main

    flat = tmp_path / "flat"
    cifar[1].subset(np.arange(20)).to_folder(tmp_path / "pics")
    flat.mkdir()
    for i, p in enumerate(sorted((tmp_path / "pics").glob("*/*.png"))):
        (flat / f"{i}.png").write_bytes(p.read_bytes())
    args = ["fit", str(flat), "--image-size", "16x24", "--channels", "1", "--resize", "pad"]
    assert main([*args, "--param", "epochs=1", "-o", str(tmp_path / "m")]) == 0
    assert (
        "read 20 images at 16×24 grey: 20 resized (longer side to fit, padded with black)"
        in capsys.readouterr().err
    )
    assert json.loads((tmp_path / "m" / "state.json").read_text())["image_shape"] == [1, 16, 24]
    for bad, message in [
        (["--image-size", "big"], "image size 'big': give one side or height x width"),
        (["--image-size", "0"], "image size (0, 0)"),
        (["--channels", "2"], "channels 2: give 1 (grey) or 3 (RGB)"),
        (["--resize", "stretch"], "--resize 'stretch': give crop or pad"),
    ]:
        assert main(["fit", str(flat), *bad, "-o", str(tmp_path / "n")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "n").exists()
