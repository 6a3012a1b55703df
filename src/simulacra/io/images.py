"""``ImageSet``: images as one uint8 array ``(N, C, H, W)`` with optional integer labels ``(N,)``.

Reads IDX files (LeCun's MNIST format, ``.gz`` too), NPZ archives (keys ``images``, optional ``labels``
and ``class_names``; read with ``allow_pickle=False``), folders of class sub-folders or flat folders of
pictures, and tables with a path column. Pictures of mixed sizes and modes are brought to one size and
channel count by :func:`~simulacra.io.pictures.read_pictures`, whose rule :attr:`ImageSet.rule` keeps.
Writes NPZ archives and PNG folders, each assembled under a temporary name and moved into place; an
existing output is replaced only with ``force``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np

from simulacra.errors import ConfigError, DataError
from simulacra.io.outputs import finish_file, replace_dir, temporary_dir_for, temporary_file_for
from simulacra.io.pictures import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    check_picture_options,
    picture_files,
    read_pictures,
)

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class ImageSet:
    """A set of images.

    images: uint8 array ``(N, C, H, W)``, ``C`` = 1 (grayscale) or 3 (RGB).
    labels: int64 array ``(N,)`` of class indices, or ``None``.
    class_names: name of each class index (default: the indices as text).
    soft_labels: float32 ``(N, K)`` class weights summing to 1 per image, or ``None``; mixup and cutmix
        produce them (Zhang et al. 2018; Yun et al. 2019). ``labels`` then holds each row's largest class.
    rule: how picture files were brought to one size and channel count (one line; empty for arrays).

    Raises
    ------
    DataError
        Wrong dtype or rank, or labels of another length.
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    soft_labels: np.ndarray | None = None
    rule: str = ""

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[1] not in (1, 3):
            raise DataError(
                f"images must be uint8 (N, C, H, W) with C = 1 or 3, got {self.images.dtype} {self.images.shape}"
            )
        if self.images.shape[2] * self.images.shape[3] > MAX_PIXELS:
            raise DataError(
                f"images of {self.images.shape[2]}×{self.images.shape[3]} pixels are beyond the {MAX_PIXELS:,}-pixel "
                "limit for one image; resize them first"
            )
        if self.labels is not None:
            self.labels = _class_indices(np.asarray(self.labels), len(self.images))
            if self.class_names and self.labels.size and int(self.labels.max()) >= len(self.class_names):
                raise DataError(
                    f"label {int(self.labels.max())} is outside the {len(self.class_names)} class names; "
                    "give one class name per label index (0 to classes − 1)"
                )
            if not self.class_names:
                self.class_names = [str(i) for i in range(int(self.labels.max(initial=-1)) + 1)]
        elif self.class_names and len(self.images):
            self.class_names = [str(n) for n in self.class_names]
        if self.soft_labels is not None:
            self.soft_labels = np.asarray(self.soft_labels, dtype=np.float32)
            if self.labels is None or self.soft_labels.shape != (len(self.images), len(self.class_names)):
                raise DataError(
                    f"soft_labels must have shape (N, classes) = ({len(self.images)}, {len(self.class_names)}) "
                    f"beside hard labels, got {self.soft_labels.shape}"
                )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> ImageSet:
        """The images (and labels) at ``index``."""
        labels = self.labels[index] if self.labels is not None else None
        soft = self.soft_labels[index] if self.soft_labels is not None else None
        return ImageSet(self.images[index], labels, list(self.class_names), soft, self.rule)

    @classmethod
    def concat(cls, sets: list[ImageSet]) -> ImageSet:
        """The images of ``sets`` one after the other, labels joined by class name
        (:func:`~simulacra.io.labelled.merged_labels`); soft labels are dropped.

        Raises
        ------
        DataError
            No set, images of different shapes, or labelled and unlabelled sets together.
        """
        from simulacra.io.labelled import merged_labels

        if not sets or len({s.images.shape[1:] for s in sets}) > 1:
            raise DataError("concat needs at least one set, all of images of one shape (C, H, W)")
        labels, names = merged_labels(sets)
        return cls(np.concatenate([s.images for s in sets]), labels, names)

    def split(self, test_size: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """``(train, test)`` with ``test_size`` images, stratified by label when there are labels."""
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(self))
        train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=self.labels)
        return self.subset(np.sort(train)), self.subset(np.sort(test))

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(
        cls,
        source: str | os.PathLike[str],
        labels: str | os.PathLike[str] | None = None,
        *,
        size: int | tuple[int, int] | None = None,
        channels: int | None = None,
        fit: str = "crop",
    ) -> ImageSet:
        """Read a folder of pictures, an ``.npz`` archive, or an IDX file (with an IDX ``labels`` file).

        Parameters
        ----------
        source : str or PathLike
            A folder of class folders of pictures (PNG, JPEG, BMP, GIF, TIFF, WebP; sorted folder
            names → labels 0, 1, …), a flat folder of pictures (unlabelled), an ``.npz`` archive or an
            IDX file.
        labels : str or PathLike or None
            The IDX labels file beside an IDX images file.
        size : int or (int, int) or None
            Bring every image to this side (square) or ``(height, width)`` in pixels; default: a
            folder's commonest size, an array's own size.
        channels : {1, 3} or None
            Grey or RGB; default: grey when every picture is grey, else RGB (an array keeps its own).
        fit : {"crop", "pad"}
            How an image of another size is resized: scaled to cover and centre-cropped, or scaled to
            fit and padded with black (:func:`~simulacra.io.pictures.read_pictures`).

        Raises
        ------
        DataError
            Missing path, unknown format, damaged content (the message names the file), a folder with
            both loose pictures and class folders, or a bad ``size``, ``channels`` or ``fit``.
        """
        check_picture_options(size, channels, fit)
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: not found; give an image folder, an .npz file or an IDX file")
        if path.is_dir():
            return cls.from_folder(path, size=size, channels=channels, fit=fit)
        found = cls.from_npz(path) if path.name.endswith(".npz") else cls.from_idx(path, labels)
        return found.resized(size, channels, fit)

    @classmethod
    def read_table(
        cls,
        source: str | os.PathLike[str],
        path_column: str,
        *,
        label_column: str | None = None,
        size: int | tuple[int, int] | None = None,
        channels: int | None = None,
        fit: str = "crop",
    ) -> ImageSet:
        """Pictures listed in a table (any file or SQL URL :func:`~simulacra.io.read_table` reads): one
        row per image, its file in ``path_column`` (relative to the table file's folder, or absolute)
        and its class in ``label_column`` where given (class names sorted → labels 0, 1, …).
        ``size``, ``channels`` and ``fit`` are as in :meth:`read`.

        Raises
        ------
        DataError
            A column the table lacks, an empty path or a missing file (the line names its row), an
            unreadable picture, or a bad option.
        """
        from simulacra.io.labelled import listed_files

        check_picture_options(size, channels, fit)
        files, columns = listed_files(source, path_column, label_column)
        images, rule = read_pictures(files, size=size, channels=channels, fit=fit)
        if label_column is None:
            return cls(images, rule=rule)
        names = sorted(set(columns[label_column]))
        index = {c: i for i, c in enumerate(names)}
        return cls(images, np.array([index[c] for c in columns[label_column]], np.int64), names, rule=rule)

    def resized(
        self, size: int | tuple[int, int] | None = None, channels: int | None = None, fit: str = "crop"
    ) -> ImageSet:
        """These images brought to ``size`` and ``channels`` as :meth:`read` brings pictures (itself
        when nothing changes). Soft labels are kept.

        Raises
        ------
        DataError
            A bad ``size``, ``channels`` or ``fit``.
        """
        from PIL import Image

        check_picture_options(size, channels, fit)
        c, h, w = self.images.shape[1:]
        sides = (
            (h, w) if size is None else (size, size) if isinstance(size, int | np.integer) else tuple(size)
        )
        if sides == (h, w) and channels in (None, c):
            return self
        pictures = []
        for img in self.images:
            buffer = BytesIO()
            Image.fromarray(img[0] if c == 1 else img.transpose(1, 2, 0)).save(buffer, format="PNG")
            pictures.append((f"image {len(pictures)}", buffer.getvalue()))
        images, rule = read_pictures(pictures, size=size or sides, channels=channels or c, fit=fit)
        return ImageSet(images, self.labels, list(self.class_names), self.soft_labels, rule)

    @classmethod
    def from_idx(
        cls, images: str | os.PathLike[str], labels: str | os.PathLike[str] | None = None
    ) -> ImageSet:
        """IDX images ``(N, H, W)`` or ``(N, H, W, C)`` and optional IDX labels ``(N,)``."""
        array = _read_idx(Path(images))
        if array.ndim == 3:
            array = array[:, None]
        elif array.ndim == 4:
            array = array.transpose(0, 3, 1, 2)
        else:
            raise DataError(f"{images}: an IDX image file holds 3 or 4 dimensions, this one {array.ndim}")
        y = _read_idx(Path(labels)) if labels is not None else None
        if y is not None and y.shape != (len(array),):
            raise DataError(f"{labels}: {y.shape[0]} labels for {len(array)} images")
        return cls(np.ascontiguousarray(array.astype(np.uint8)), y)

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str]) -> ImageSet:
        """An archive with ``images`` (uint8 ``(N, C, H, W)``) and optional ``labels``, ``class_names``,
        ``soft_labels``."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                if "images" not in npz.files:
                    raise DataError(
                        f"{path}: no 'images' array (found {npz.files}); write it with ImageSet.to_npz"
                    )
                labels = npz["labels"] if "labels" in npz.files else None
                names = [str(n) for n in npz["class_names"]] if "class_names" in npz.files else []
                soft = npz["soft_labels"] if "soft_labels" in npz.files else None
                return cls(npz["images"], labels, names, soft)
        except DataError:
            raise
        except Exception as exc:  # OSError, zipfile.BadZipFile, zlib.error, ValueError, MemoryError: damage
            raise DataError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_folder(
        cls,
        path: str | os.PathLike[str],
        *,
        size: int | tuple[int, int] | None = None,
        channels: int | None = None,
        fit: str = "crop",
    ) -> ImageSet:
        """A folder with one sub-folder per class (sorted names → labels 0, 1, …), or a flat folder of
        pictures (unlabelled), read by :func:`~simulacra.io.pictures.read_pictures`: a set whose
        pictures are all grey gives ``C = 1``, a set with any colour picture ``C = 3``, whatever the
        order of the files; 16-bit pictures are scaled to 8 bits (``v / 257``), not clipped.

        Raises
        ------
        DataError
            No picture, pictures both loose and in class folders, or an unreadable picture.
        """
        root = Path(path)
        classes = [d for d in sorted(root.iterdir()) if d.is_dir() and picture_files(d)]
        loose = picture_files(root)
        if classes and loose:
            raise DataError(
                f"{root}: {len(loose)} pictures beside {len(classes)} class folders; move them into a class "
                "folder, or read a flat folder of pictures only"
            )
        files = [f for d in classes for f in picture_files(d)] or loose
        if not files:
            raise DataError(
                f"{root}: no {', '.join(IMAGE_SUFFIXES)} pictures in it or in class sub-folders; "
                "put the images in it, or each class's images in a folder of its own"
            )
        images, rule = read_pictures(files, size=size, channels=channels, fit=fit)
        if not classes:
            return cls(images, rule=rule)
        labels = np.concatenate([np.full(len(picture_files(d)), i, np.int64) for i, d in enumerate(classes)])
        return cls(images, labels, [d.name for d in classes], rule=rule)

    # ------------------------------------------------------------------ writing
    def to_npz(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write ``images``, ``labels``, ``class_names`` and ``soft_labels`` (compressed), atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ConfigError(f"{path}: image archives are .npz files; end the name in .npz")
        tmp = temporary_file_for(path, force=force)
        try:
            arrays = {"images": self.images}
            if self.labels is not None:
                arrays |= {"labels": self.labels, "class_names": np.array(self.class_names, dtype=str)}
            if self.soft_labels is not None:
                arrays["soft_labels"] = self.soft_labels
            with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a name
                np.savez_compressed(f, **arrays)
            finish_file(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def to_folder(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write one PNG per image into class sub-folders (``unlabelled/`` without labels), atomically.
        Soft labels do not fit folders: each image goes to its largest class (use NPZ to keep them)."""
        from PIL import Image

        path = Path(path)
        tmp = temporary_dir_for(path, force=force)
        try:
            names = self.class_names if self.labels is not None else ["unlabelled"]
            labels = self.labels if self.labels is not None else np.zeros(len(self), dtype=np.int64)
            for name in names:
                (tmp / name).mkdir()
            for i, (img, y) in enumerate(zip(self.images, labels, strict=True)):
                pixels = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
                Image.fromarray(pixels).save(tmp / names[y] / f"{i:06d}.png")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return replace_dir(tmp, path)


#: the largest class index an image label may have
MAX_CLASSES = 100_000


def _class_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Labels as int64 class indices ``(n,)``: integers (or integral numbers) in ``[0, MAX_CLASSES)``.

    Raises
    ------
    DataError
        Another shape, fractional or negative values, or an index of ``MAX_CLASSES`` or more.
    """
    if labels.shape != (n,):
        raise DataError(f"labels must have shape ({n},), got {labels.shape}")
    if labels.dtype.kind not in "iub":
        if labels.dtype.kind != "f" or not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            bad = next(
                (v for v in labels.tolist() if not (isinstance(v, float) and float(v).is_integer())), None
            )
            raise DataError(
                f"labels must be class indices 0, 1, 2, …; found {bad!r}; give whole numbers (class names go in class_names)"
            )
    if labels.size and labels.min() < 0:
        raise DataError(f"labels must be class indices ≥ 0; found {labels.min()}")
    if labels.size and labels.max() >= MAX_CLASSES:
        raise DataError(f"label {labels.max()} is beyond the {MAX_CLASSES:,} classes simulacra takes")
    return labels.astype(np.int64)


def make_grid(images: np.ndarray, ncol: int, pad: int = 2, background: int = 255) -> np.ndarray:
    """Tile uint8 images ``(N, C, H, W)`` row by row, ``ncol`` per row, ``pad`` pixels apart, into one
    uint8 picture ``(rows·(H+pad)+pad, ncol·(W+pad)+pad, C)`` (``HWC``, as Pillow takes it)."""
    n, c, h, w = images.shape
    ncol = max(1, min(int(ncol), n)) if n else 1
    nrow = -(-n // ncol) if n else 1
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), background, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[top : top + h, left : left + w] = img.transpose(1, 2, 0)
    return grid


def png_bytes(picture: np.ndarray, scale: int = 1) -> bytes:
    """PNG file bytes of a uint8 ``(H, W, C)`` picture, enlarged ``scale`` times (nearest neighbour)."""
    from io import BytesIO

    from PIL import Image

    if scale > 1:
        picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    image = Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture)
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _read_idx(path: Path) -> np.ndarray:
    """An IDX array (LeCun et al., the MNIST file format): magic ``0x0000TTDD``, ``DD`` big-endian int32
    sizes, then the data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read, damaged or truncated ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); give MNIST-style .idx(.gz) files")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    data = raw[4 + 4 * ndim :]
    if len(data) != expected:
        raise DataError(
            f"{path}: {len(data)} data bytes where the header promises {expected}; the file is truncated"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)
