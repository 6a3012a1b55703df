"""``TextSet``: labelled texts, the third modality beside tables and :class:`~simulacra.io.ImageSet`.

Reads

* tables (CSV/TSV/JSONL/Parquet, anything :func:`~simulacra.io.read_table` reads): one text column and
  an optional label column, named with ``text_column``/``label_column`` or found by name (``text``,
  ``message``, ``sentence``, …; ``label``, ``class``, ``category``, …) or, for the text, as the string
  column with the most words per value;
* a folder of class folders holding ``.txt`` files (one text per file, the folder name its class);
* the SMS Spam Collection format (Almeida et al. 2011): one message a line, ``label<TAB>text``, no
  header, UTF-8 (a file with no table suffix, optionally ``.gz``).

Writes JSONL (``{"text": …, "label": …}`` per line), CSV/TSV or Parquet through
:func:`~simulacra.io.write_table`, so a text output follows the same rules as a table (temporary name,
moved into place, ``force`` only over an existing file). No value is read as missing: a message
``"NA"`` stays text.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError

#: column names taken for the text and the label when none is given (first match, case-insensitive)
TEXT_NAMES = ("text", "message", "sentence", "document", "content", "body", "review", "sms")
LABEL_NAMES = ("label", "class", "category", "target", "y", "sentiment")
#: a text longer than this (characters) is refused: a reader of untrusted files bounds what it holds
MAX_TEXT_CHARS = 100_000


@dataclass
class TextSet:
    """A set of texts with optional class labels.

    texts: ``list[str]`` of length ``N`` (an Arrow/NumPy string array is converted).
    labels: int64 array ``(N,)`` of class indices into ``class_names``, or ``None``.
    class_names: the name of each class index.

    Raises
    ------
    DataError
        A text that is not a string (or is longer than :data:`MAX_TEXT_CHARS`), labels of another length,
        or a label index outside ``class_names``.
    """

    texts: list[str]
    labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        texts = list(self.texts.to_pylist() if hasattr(self.texts, "to_pylist") else self.texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise DataError(f"text {i} is {type(t).__name__}, not a string; give one string per text")
            if len(t) > MAX_TEXT_CHARS:
                raise DataError(
                    f"text {i} has {len(t):,} characters, beyond the {MAX_TEXT_CHARS:,} limit; split it first"
                )
        self.texts = texts
        self.class_names = [str(c) for c in self.class_names]
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (len(texts),) or (labels.size and labels.dtype.kind not in "iu"):
                raise DataError(
                    f"labels must be {len(texts)} class indices (N,), got {labels.dtype} {labels.shape}"
                )
            self.labels = labels.astype(np.int64)
            if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
                raise DataError(
                    f"label index {int(self.labels.max())} is outside the {len(self.class_names)} class "
                    "names; give one class name per label index"
                )

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_labels(cls, texts: list[str], labels: Any | None) -> TextSet:
        """Texts with class labels given as values (names); classes sorted by name."""
        if labels is None:
            return cls(list(texts))
        values = pd.Series(labels).astype(str)
        names = sorted(values.unique())
        return cls(list(texts), values.map({n: i for i, n in enumerate(names)}).to_numpy(np.int64), names)

    def label_names(self) -> list[str] | None:
        """Each text's class name, or ``None`` without labels."""
        return None if self.labels is None else [self.class_names[i] for i in self.labels]

    def subset(self, index: np.ndarray) -> TextSet:
        """The texts (and labels) at ``index``."""
        idx = np.asarray(index, dtype=np.int64)
        labels = self.labels[idx] if self.labels is not None else None
        return TextSet([self.texts[i] for i in idx], labels, list(self.class_names))

    @classmethod
    def concat(cls, sets: list[TextSet]) -> TextSet:
        """The texts of ``sets`` one after the other, labels joined by class name
        (:func:`~simulacra.io.labelled.merged_labels`).

        Raises
        ------
        DataError
            No set, or labelled and unlabelled sets together.
        """
        from simulacra.io.labelled import merged_labels

        if not sets:
            raise DataError("concat needs at least one set of texts")
        labels, names = merged_labels(sets)
        return cls([t for s in sets for t in s.texts], labels, names)

    def split(self, test_size: float | int, seed: int = 0) -> tuple[TextSet, TextSet]:
        """``(train, test)``, stratified by label when there are labels (scikit-learn's
        ``train_test_split``; ``test_size`` a share or a count)."""
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(self))
        train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=self.labels)
        return self.subset(np.sort(train)), self.subset(np.sort(test))

    def class_counts(self) -> list[int]:
        """Texts per class index (empty without labels)."""
        if self.labels is None:
            return []
        return np.bincount(self.labels, minlength=len(self.class_names)).tolist()

    def to_frame(self) -> pd.DataFrame:
        """A ``text`` column, and a ``label`` column of class names when labelled."""
        df = pd.DataFrame({"text": pd.Series(self.texts, dtype=object)})
        if self.labels is not None:
            df["label"] = self.label_names()
        return df

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(
        cls,
        source: str | os.PathLike[str],
        *,
        text_column: str | None = None,
        label_column: str | None = None,
    ) -> TextSet:
        """Read a table file, a folder of class folders of ``.txt`` files, or an SMS-Spam-Collection
        file (see the module docstring).

        Raises
        ------
        DataError
            Missing path, no text column, unknown named columns, or damaged content.
        """
        path = Path(source)
        if not path.exists():
            raise DataError(
                f"{path}: not found; give a table file, a folder of class folders, or a TSV of label<TAB>text"
            )
        if path.is_dir():
            return cls.from_folder(path)
        if is_sms_format(path):
            return cls.from_sms(path)
        from simulacra.io.tables import read_table

        return cls.from_frame(
            read_table(path, na_values=()), text_column=text_column, label_column=label_column
        )

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, *, text_column: str | None = None, label_column: str | None = None
    ) -> TextSet:
        """The texts of ``df[text_column]`` with labels ``df[label_column]`` (see :func:`text_columns`).
        Missing texts become empty strings; rows with a missing label are refused."""
        text_col, label_col = text_columns(df, text_column, label_column)
        texts = df[text_col].fillna("").map(str).tolist()
        if label_col is None:
            return cls(texts)
        if df[label_col].isna().any():
            raise DataError(f"column {label_col!r} has missing labels; drop those rows or fill them")
        return cls.from_labels(texts, df[label_col])

    @classmethod
    def from_sms(cls, path: str | os.PathLike[str]) -> TextSet:
        """The SMS Spam Collection format: ``label<TAB>text`` per line, UTF-8, optionally gzipped."""
        path = Path(path)
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            lines = raw.decode("utf-8").splitlines()
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
            raise DataError(f"{path}: not a readable UTF-8 text file ({exc})") from None
        labels, texts = [], []
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            label, tab, text = line.partition("\t")
            if not tab:
                raise DataError(f"{path}, line {i}: no TAB between label and text; use label<TAB>text lines")
            labels.append(label.strip())
            texts.append(text)
        if not texts:
            raise DataError(f"{path}: no messages; give label<TAB>text lines")
        return cls.from_labels(texts, labels)

    @classmethod
    def from_folder(cls, path: str | os.PathLike[str]) -> TextSet:
        """A folder of class folders, each holding ``.txt`` files (UTF-8), one text per file."""
        path = Path(path)
        texts, labels = [], []
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            for f in sorted(folder.glob("*.txt")):
                try:
                    texts.append(f.read_text(encoding="utf-8").strip())
                except (OSError, UnicodeDecodeError) as exc:
                    raise DataError(f"{f}: not a readable UTF-8 text file ({exc})") from None
                labels.append(folder.name)
        if not texts:
            raise DataError(
                f"{path}: no .txt files in class folders; put each class's texts in a folder of its name"
            )
        return cls.from_labels(texts, labels)


def near_copy_key(text: str) -> str:
    """The form in which two texts count as copies of each other: lower case, letters and digits only,
    words separated by one space (``"Call me NOW!!"`` and ``"call me now"`` share it)."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).replace("_", " ").split())


def is_sms_format(path: Path) -> bool:
    """Whether ``path`` is a plain (or gzipped) text file with no table suffix whose lines are
    ``label<TAB>text``."""
    from simulacra.io.tables import FILE_FORMATS

    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if path.is_dir() or any(s in FILE_FORMATS for s in suffixes[-1:]):
        return False
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()] or [head]
    return all(b"\t" in ln and b"\x00" not in ln for ln in lines)


def text_columns(
    df: pd.DataFrame, text_column: str | None = None, label_column: str | None = None
) -> tuple[str, str | None]:
    """The text and label columns of ``df``: the named ones, else the first column named like
    :data:`TEXT_NAMES` / :data:`LABEL_NAMES` (case-insensitive), else (text) the string column with
    the most words per value and (label) none.

    Raises
    ------
    DataError
        A named column that does not exist, or no string column.
    """
    for name, what, flag in (
        (text_column, "text", "`text_column`"),
        (label_column, "label", "`label_column`"),
    ):
        if name is not None and name not in df.columns:
            raise DataError(
                f"no {what} column {name!r}; columns are: {', '.join(map(str, df.columns))}; fix {flag}"
            )
    lower = {str(c).lower(): c for c in df.columns}
    if text_column is None:
        text_column = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    if text_column is None:
        strings = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
        if not strings:
            raise DataError("no text column (no column of strings); name it with `text_column`")
        text_column = max(strings, key=lambda c: df[c].dropna().map(lambda v: len(str(v).split())).mean())
    if label_column is None:
        label_column = next((lower[n] for n in LABEL_NAMES if n in lower and lower[n] != text_column), None)
    return str(text_column), (None if label_column is None else str(label_column))
