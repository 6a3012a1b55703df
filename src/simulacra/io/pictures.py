"""Picture files to one uint8 array: every image brought to one size and one channel count by a rule
that is recorded.

Real image folders mix sizes and modes: JPEG photographs taken on their side (an EXIF orientation tag),
PNG icons with transparency, palette GIF-style PNGs, 16-bit scans, grey and colour pictures side by
side. :func:`read_pictures` reads them all with Pillow, in this order, per picture:

1. **Upright** by its EXIF orientation (``ImageOps.exif_transpose``), as a viewer shows it.
2. **8 bits**: 16- and 32-bit grey values are scaled (``v / 257`` for 16 bits, so 65,535 → 255), not
   clipped as Pillow's ``convert("L")`` would.
3. **Opaque**: a picture with transparency (RGBA, LA, a palette with a transparent index) is
   composited on white, as a browser on a white page shows it.
4. **One channel count**: grey (``C = 1``) when every picture of the set is grey, else RGB (``C = 3``,
   grey pictures repeated over the three channels), unless ``channels`` is given.
5. **One size** ``(H, W)``: the given ``size``, else the commonest size among the (upright) pictures.
   A picture of another size is resized with Lanczos filtering (``ImageOps.fit``, ``ImageOps.pad``):
   with ``fit="crop"`` (the default) its shorter side is scaled to fit and the centre cut out, as
   torchvision's ``Resize`` + ``CenterCrop`` do, so nothing is distorted and the borders are lost; with
   ``fit="pad"`` its longer side is scaled to fit and the rest filled with black, so nothing is lost.

The rule (the size, the channels and how many pictures each step changed) comes back as one line,
which :attr:`~simulacra.io.ImageSet.rule` keeps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from simulacra.errors import DataError

#: the picture files read (lower-case suffixes)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: how a picture of another size is brought to the set's size
FITS = ("crop", "pad")
#: the most pixels one image may have (Pillow's decompression-bomb limit is about 89 million)
MAX_PIXELS = 40_000_000
#: the largest side :func:`read_pictures` resizes to
MAX_SIDE = 4096

#: Pillow modes of grey pictures; the 16- and 32-bit integer and float ones are scaled to 8 bits
GREY_MODES = ("L", "1", "LA", "La", "I;16", "I;16B", "I;16L", "I", "F")
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
#: EXIF orientations that turn a picture by 90° (its width and height swap when it is made upright)
_QUARTER_TURNS = (5, 6, 7, 8)
_ORIENTATION = 0x0112

#: one picture: a path, or ``(name, file bytes)`` for pictures inside an archive
PictureSource = Path | tuple[str, bytes]


def picture_files(folder: Path) -> list[Path]:
    """The picture files (:data:`IMAGE_SUFFIXES`) directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"64"`` → ``(64, 64)``, ``"64x48"`` → ``(64, 48)`` (height × width); ``None`` stays ``None``.

    Raises
    ------
    DataError
        Anything else, or a side outside ``[1, MAX_SIDE]``.
    """
    if text is None:
        return None
    parts = str(text).lower().replace("×", "x").split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise DataError(f"image size {text!r}: give one side or height x width in pixels, e.g. 64 or 64x48")
    sides = tuple(int(p) for p in parts)
    size = (sides[0], sides[-1])
    check_picture_options(size, None, "crop")
    return size


def check_picture_options(size: int | tuple[int, int] | None, channels: int | None, fit: str) -> None:
    """Refuse a ``size``, ``channels`` or ``fit`` that :func:`read_pictures` cannot use.

    Raises
    ------
    DataError
        A side outside ``[1, MAX_SIDE]``, a size that is not one or two whole numbers, channels other
        than 1 or 3, or a fit other than those of :data:`FITS`.
    """
    if size is not None:
        sides = (size, size) if isinstance(size, int | np.integer) else tuple(size)
        if len(sides) != 2 or not all(isinstance(s, int | np.integer) and 1 <= s <= MAX_SIDE for s in sides):
            raise DataError(
                f"image size {size!r}: give one side or (height, width), whole numbers in [1, {MAX_SIDE}]"
            )
    if channels not in (None, 1, 3):
        raise DataError(f"channels {channels!r}: give 1 (grey) or 3 (RGB)")
    if fit not in FITS:
        raise DataError(f"fit {fit!r}: give one of {', '.join(FITS)}")


def read_pictures(
    sources: Sequence[PictureSource],
    *,
    size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    fit: str = "crop",
) -> tuple[np.ndarray, str]:
    """Read picture files into one array, each converted as the module describes.

    Parameters
    ----------
    sources : sequence of Path or (str, bytes)
        The picture files, or ``(name, bytes)`` of pictures held in memory (an archive's members).
    size : int or (int, int) or None
        The output side (square) or ``(height, width)`` in pixels; default the commonest size.
    channels : {1, 3} or None
        Grey or RGB; default grey when every picture is grey, else RGB.
    fit : {"crop", "pad"}
        How a picture of another size is brought to ``size`` (resize and centre-crop, or resize and
        pad with black).

    Returns
    -------
    (images, rule)
        ``images`` uint8 ``(N, C, H, W)``; ``rule`` one line saying the size, the channels and how many
        pictures were turned, scaled to 8 bits, made opaque, converted and resized.

    Raises
    ------
    DataError
        No picture, a bad option (:func:`check_picture_options`), an unreadable or damaged file, or a
        picture beyond :data:`MAX_PIXELS` (the line names the file); not enough memory for the set.
    """
    from PIL import Image

    from simulacra.validation import check_memory

    check_picture_options(size, channels, fit)
    if not sources:
        raise DataError("no picture to read; give at least one image file")
    heads = [_header(s) for s in sources]  # cheap: Pillow reads no pixels
    mode = {1: "L", 3: "RGB"}.get(channels or 0) or ("L" if all(h[1] in GREY_MODES for h in heads) else "RGB")
    if size is None:
        h, w = Counter(h[0] for h in heads).most_common(1)[0][0]
    else:
        h, w = (size, size) if isinstance(size, int | np.integer) else size
    c = 1 if mode == "L" else 3
    check_memory(
        len(sources) * h * w * c * 2.0,
        f"reading {len(sources):,} images of {h}×{w} pixels",
        "use fewer or smaller images (`size`)",
    )
    out = np.empty((len(sources), c, int(h), int(w)), np.uint8)
    counts: Counter[str] = Counter()
    for i, source in enumerate(sources):
        try:
            with _open(source) as im:
                pixels = _convert(im, mode, (int(w), int(h)), fit, counts)
            out[i] = pixels[None] if c == 1 else pixels.transpose(2, 0, 1)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(
                f"{_name(source)}: not a readable image ({' '.join(str(exc).split())[:120]})"
            ) from None
    return out, _rule(len(sources), (int(h), int(w)), mode, fit, counts)


def _name(source: PictureSource) -> str:
    return source[0] if isinstance(source, tuple) else str(source)


def _open(source: PictureSource) -> Any:
    from PIL import Image

    return Image.open(BytesIO(source[1]) if isinstance(source, tuple) else source)


def _header(source: PictureSource) -> tuple[tuple[int, int], str]:
    """``((height, width) upright, mode)`` of one picture from its header.

    Raises
    ------
    DataError
        An unreadable file, or one beyond :data:`MAX_PIXELS`.
    """
    from PIL import Image

    try:
        with _open(source) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise DataError(
                    f"{_name(source)}: {w}×{h} pixels is beyond the {MAX_PIXELS:,}-pixel limit for one "
                    "image; resize the images first"
                )
            if im.getexif().get(_ORIENTATION, 1) in _QUARTER_TURNS:
                w, h = h, w
            return (h, w), im.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"{_name(source)}: not a readable image ({' '.join(str(exc).split())[:120]})"
        ) from None


def _convert(im: Any, mode: str, size: tuple[int, int], fit: str, counts: Counter[str]) -> np.ndarray:
    """One picture as uint8 pixels of ``mode`` (``L``: ``(H, W)``, ``RGB``: ``(H, W, 3)``) at ``size``
    ``(width, height)``; ``counts`` tallies each step that changed it."""
    from PIL import Image, ImageOps

    if im.getexif().get(_ORIENTATION, 1) != 1:
        im = ImageOps.exif_transpose(im)
        counts["upright"] += 1
    if im.mode in WIDE_MODES:
        wide = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode != "F" else max(float(wide.max()), 1.0)
        im = Image.fromarray(np.clip(np.rint(wide * 255.0 / top), 0, 255).astype(np.uint8), mode="L")
        counts["wide"] += 1
    grey = im.mode in GREY_MODES
    if im.has_transparency_data:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        im = im.convert("L" if grey else "RGB")
        counts["opaque"] += 1
    if grey != (mode == "L"):
        counts["grey to RGB" if grey else "RGB to grey"] += 1
    im = im.convert(mode)
    if im.size != size:
        resize = ImageOps.fit if fit == "crop" else ImageOps.pad
        im = resize(im, size, method=Image.Resampling.LANCZOS)
        counts["resized"] += 1
    return np.asarray(im)


def _rule(n: int, size: tuple[int, int], mode: str, fit: str, counts: Counter[str]) -> str:
    """The one line :func:`read_pictures` returns."""
    how = {
        "crop": "resized (shorter side to fit, centre cropped)",
        "pad": "resized (longer side to fit, padded with black)",
    }[fit]
    steps = [
        ("resized", how),
        ("upright", "turned upright by their EXIF orientation"),
        ("wide", "scaled from 16 or 32 bits to 8"),
        ("opaque", "with transparency composited on white"),
        ("grey to RGB", "grey repeated over three channels"),
        ("RGB to grey", "colour converted to grey"),
    ]
    done = [f"{counts[key]} {what}" for key, what in steps if counts[key]]
    kind = "grey" if mode == "L" else "RGB"
    return f"{n:,} images at {size[0]}×{size[1]} {kind}" + (f": {', '.join(done)}" if done else ", as read")
