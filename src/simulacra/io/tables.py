"""Tabular I/O: CSV/TSV, Parquet, JSON Lines, Excel and SQL (through SQLAlchemy).

Conventions
-----------
* ``source`` is a filesystem path, or an SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://…``)
  together with ``table=`` or ``query=``. For the CLI a URL may carry the table in its query string:
  ``sqlite:///file.db?table=adult``.
* Delimited text is sniffed: the delimiter among ``, ; TAB |``, a decimal comma for semicolon files, and
  columns whose values are all ``true``/``false`` (any case) become booleans. Surrounding whitespace is
  stripped from column names and string values. Missing-value markers default to
  :data:`DEFAULT_NA_VALUES` and are configurable with ``na_values``.
* Writes never clobber: a file is written under a temporary name in the target folder and moved into
  place; an existing target raises :class:`~simulacra.errors.OutputExistsError` unless ``force=True``.
  SQL writes happen in one transaction, so a failure leaves the previous table untouched.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import os
import re
import sqlite3
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd

from simulacra.errors import ConfigError, DataError, DataWarning, OutputExistsError
from simulacra.io.outputs import check_writable, finish_file, temporary_file_for

#: Markers read as missing values unless ``na_values`` says otherwise.
DEFAULT_NA_VALUES: tuple[str, ...] = ("", "?", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "#N/A")

#: File suffixes (after an optional ``.gz``) and the format each one means.
FILE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".data": "csv",
    ".test": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "excel",
    ".xls": "excel",
}

_SQL_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
_TRUE = {"true"}
_FALSE = {"false"}


def is_sql_url(source: object) -> bool:
    """True when ``source`` is a string that looks like an SQLAlchemy URL (``scheme://…``)."""
    return isinstance(source, str) and bool(_SQL_URL.match(source)) and not source.startswith("file://")


def _file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1] not in FILE_FORMATS:
        known = ", ".join(sorted(set(FILE_FORMATS)))
        raise DataError(f"{path}: unknown file format {path.suffix!r}; use one of {known} (optionally .gz)")
    return FILE_FORMATS[suffixes[-1]]


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """Remove simulacra's own ``table``/``query`` parameters from a URL's query string.

    ``query=`` takes the rest of the URL as it is written, so SQL is never mangled by URL decoding (no
    ``+`` turned into a space, no ``&`` ending it): it must come last. ``table=`` and the driver's own
    options are split at ``&`` and only percent-decoded (``%2B``), never ``+``-decoded. The URL is split
    by hand: ``urllib``'s round trip would turn ``sqlite:////abs/path`` into ``sqlite://abs/path``.
    """
    base, mark, rest = url.partition("?")
    ours: dict[str, str] = {}
    if not mark:
        return base, ours
    found = re.search(r"(?:^|&)query=", rest)
    if found:
        ours["query"] = rest[found.end() :]
        rest = rest[: found.start()]
    kept = []
    for piece in rest.split("&") if rest else []:
        key, _, value = piece.partition("=")
        if unquote(key) == "table":
            ours["table"] = unquote(value)
        elif piece:
            kept.append(piece)
    return (f"{base}?{'&'.join(kept)}" if kept else base), ours


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "") or type(exc).__name__


def _parsed_url(url: str):
    """SQLAlchemy's own reading of ``url`` (a ``sqlalchemy.engine.URL``), or ``None`` when it cannot
    parse it: deciding anything from the text by hand (a prefix, a regex) reads it differently from
    the driver that will open it."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url)
    except Exception:  # SQLAlchemy raises ArgumentError, ValueError, … for malformed URLs
        return None


def _credentials(url: str) -> tuple[int, int] | None:
    """Where the user and password of a URL stand (``url[start:end]``, up to its *last* ``@`` before
    the query), or ``None`` without any."""
    head = url.partition("?")[0]
    start = head.find("://")
    end = head.rfind("@")
    if start < 0 or end < start or head[start + 3 : start + 4] == "/":  # no authority: a file path
        return None
    return start + 3, end


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for every message, title and log line that shows
    a source (a path or any other text comes back unchanged). Everything up to the last ``@`` before
    the query counts as the credentials, so a password holding ``@`` (``bob:p@ss@host``) is hidden whole, however
    a driver would split it."""
    url = str(url)
    where = _credentials(url) if is_sql_url(url) else None
    if where is None:
        return url
    start, end = where
    user, colon, _ = url[start:end].partition(":")
    return url[:start] + (f"{user}:***" if colon else url[start:end]) + url[end:]


def _check_credentials(url: str) -> None:
    """Refuse a URL whose user or password holds a bare ``@``: SQLAlchemy ends the password at the
    first one and would send the rest to the server as part of the host name (and into its error
    messages).

    Raises
    ------
    DataError
        With the fix: percent-encode the ``@`` as ``%40``.
    """
    where = _credentials(url)
    if where is not None and "@" in url[where[0] : where[1]]:
        raise DataError(
            f"{redact_url(url)}: the user or password holds an '@', which ends the password in a URL; "
            "write it percent-encoded as %40"
        )


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, whatever its driver (``sqlite://``, ``sqlite+pysqlite://``,
    a ``file:`` URI with ``uri=true``); ``None`` for other dialects and in-memory databases."""
    parsed = _parsed_url(url)
    if parsed is None or parsed.get_backend_name() != "sqlite":
        return None
    db = parsed.database or ""
    if str(parsed.query.get("uri", "")).lower() == "true" and db.startswith("file:"):
        db = unquote(db[len("file:") :].partition("?")[0])
    return None if db in ("", ":memory:") else db


def _read_head(path: Path, n_bytes: int = 65536, encoding: str = "utf-8") -> str:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read(n_bytes)
    return raw.decode(encoding, errors="replace")


#: characters of a line the delimiter guess reads: csv.Sniffer's regular expressions take minutes on
#: a 70,000-character line of separators
SNIFF_LINE_CHARS = 2_000
#: most columns a table may have: wider ones are refused before pandas builds them
MAX_COLUMNS = 5_000


def _sniff_delimiter(sample: str) -> str:
    lines = [ln[:SNIFF_LINE_CHARS] for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sum(ln.count(d) for ln in lines) for d in ",;\t|"}
        return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def _sniff_decimal(sample: str, sep: str) -> str:
    if sep != ";":
        return "."
    commas = len(re.findall(r"(?:^|;)\s*-?\d+,\d+\s*(?=;|$)", sample, flags=re.M))
    points = len(re.findall(r"(?:^|;)\s*-?\d+\.\d+\s*(?=;|$)", sample, flags=re.M))
    return "," if commas > points else "."


def _strip(df: pd.DataFrame, source: str = "the table") -> pd.DataFrame:
    """Strip column names and string values; an empty string becomes missing.

    Raises
    ------
    DataError
        Two names that are equal once stripped (``"a"`` and ``" a"``, as JSON keys may be).
    """
    seen: dict[Any, Any] = {}
    for c in df.columns:
        key = c.strip() if isinstance(c, str) else c
        if key in seen:
            raise DataError(
                f"{source}: columns {seen[key]!r} and {c!r} have the same name once surrounding spaces are "
                "removed; rename one of them"
            )
        seen[key] = c
    df = df.rename(columns=lambda c: c.strip() if isinstance(c, str) else c)
    for col in df.columns:
        s = df[col]
        if s.dtype != object and not isinstance(s.dtype, pd.StringDtype):
            continue
        is_str = s.map(lambda v: isinstance(v, str))
        if is_str.any():
            s = s.where(~is_str, s[is_str].str.strip())
            s = s.replace("", None) if (s[is_str] == "").any() else s
            df[col] = s
    return df


#: the largest integer float64 holds exactly (2^53): larger ids would be rounded by any float step
MAX_EXACT_INT = 2**53


def _check_value_types(df: pd.DataFrame, source: str) -> None:
    """Refuse values simulacra cannot model or write back unchanged, each with the fix: nested values
    (JSON objects and arrays, Parquet lists, structs and maps), binary values, durations, and unsigned
    integers beyond the signed 64-bit range.

    Raises
    ------
    DataError
        Naming the first such column.
    """
    from pandas.api.types import infer_dtype

    for col in df.columns:
        s = df[col]
        if pd.api.types.is_timedelta64_dtype(s.dtype):
            raise DataError(
                f"{source}: column {col!r} holds durations (timedelta), which simulacra does not model; "
                "store it as a number (e.g. seconds) and convert back after sampling"
            )
        if pd.api.types.is_unsigned_integer_dtype(s.dtype) and len(s) and s.max() > 2**63 - 1:
            raise DataError(
                f"{source}: column {col!r} holds unsigned integers up to {s.max()}, beyond the signed 64-bit "
                "range simulacra computes in; store it as text if it is an identifier"
            )
        if s.dtype != object:
            continue
        kind = infer_dtype(s, skipna=True)
        if kind == "bytes":
            raise DataError(
                f"{source}: column {col!r} holds binary values (bytes); decode them to text or drop the column"
            )
        if kind.startswith("mixed") or kind == "unknown-array":
            nested = s.map(
                lambda v: isinstance(v, dict | list | tuple | set | bytes) or hasattr(v, "__array__")
            )
            if nested.any():
                first = s[nested].iloc[0]
                raise DataError(
                    f"{source}: column {col!r} holds nested values ({type(first).__name__}: a JSON object or "
                    "array, a Parquet list or struct) in row "
                    f"{int(nested.to_numpy().argmax()) + 1}; flatten it into plain columns (e.g. "
                    "pandas.json_normalize) or drop it"
                )


def tidy_table(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """What :func:`read_table` does to every table it reads: names and string values stripped, columns
    whose values are all ``true``/``false`` text (any case) made booleans.

    Raises
    ------
    DataError
        The table has no rows or no columns; two names equal once stripped; values simulacra cannot
        model (:func:`_check_value_types`).
    """
    _check_width(source, df.shape[1])
    df = _strip(df, source)
    _check_value_types(df, source)
    for col in df.columns:
        s = df[col]
        if s.dtype != object and not isinstance(s.dtype, pd.StringDtype):
            continue
        values = s.dropna()
        if len(values) and values.map(lambda v: isinstance(v, str)).all():
            lowered = set(values.str.lower().unique())
            if lowered <= (_TRUE | _FALSE) and len(lowered) >= 1:
                mapped = s.map(lambda v: None if pd.isna(v) else v.lower() in _TRUE)
                df[col] = mapped.astype("boolean") if s.isna().any() else mapped.astype(bool)
    if df.shape[1] == 0 or len(df) == 0:
        raise DataError(f"{source}: the table has no rows; point to a file or table that holds data")
    return df


def conform_chunk(chunk: pd.DataFrame, like: pd.DataFrame, source: str) -> pd.DataFrame:
    """A chunk of :func:`iter_table` made like ``like`` (rows of the same table that went through
    :func:`tidy_table`): ``like``'s columns, in its order, and ``true``/``false`` text made booleans in
    the columns ``like`` holds as booleans (a chunk alone cannot tell whether such text is boolean).

    Raises
    ------
    DataError
        A column of ``like`` is missing from the chunk (the table changed while it was read).
    """
    missing = [c for c in like.columns if c not in chunk.columns]
    if missing:
        raise DataError(
            f"{source}: column {missing[0]!r} is missing from a later part of the table; "
            "it changed while it was read, so read it again once it is complete"
        )
    chunk = chunk[list(like.columns)]
    for col in like.columns:
        kind = like[col].dtype
        if (pd.api.types.is_bool_dtype(kind) or isinstance(kind, pd.BooleanDtype)) and chunk[
            col
        ].dtype == object:
            flags = chunk[col].map(lambda v: None if pd.isna(v) else str(v).lower() in _TRUE)
            chunk = chunk.assign(
                **{col: flags.astype("boolean") if flags.isna().any() else flags.astype(bool)}
            )
    return chunk


def read_table(
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    query: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    header: int | None = 0,
    na_values: Iterable[str] | None = None,
    encoding: str | None = None,
    sheet_name: str | int = 0,
    nrows: int | None = None,
    chunk_rows: int = 50_000,
) -> pd.DataFrame:
    """Read a table from a file or an SQL database into a DataFrame.

    Parameters
    ----------
    source:
        Path to a ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.parquet``, ``.jsonl``, ``.json``
        (records) or ``.xlsx`` file; or an SQLAlchemy URL such as ``sqlite:///file.db``.
    table, query:
        For SQL sources: a table name or a SELECT statement (exactly one; the URL's ``?table=`` or
        ``?query=`` parameter counts).
    sep, decimal:
        Delimiter and decimal mark of text files; sniffed from the first 64 KiB when ``None``.
    header:
        Row number of the header in text files, or ``None`` for no header (columns named ``0..k-1``).
    na_values:
        Strings read as missing; :data:`DEFAULT_NA_VALUES` when ``None``.
    encoding:
        Text encoding of text files. ``None``: UTF-8 (a byte-order mark is dropped); a file that is
        not valid UTF-8 is decoded as Latin-1 instead, and ``df.attrs["read_notes"]`` says so (the
        preparation report lists it). An explicit encoding that does not fit is an error.
    sheet_name:
        Excel sheet.
    nrows:
        Read at most this many rows (files and SQL).
    chunk_rows:
        SQL only: rows fetched per round trip through a server-side cursor, so a large table streams
        in bounded pieces instead of arriving as one driver-side result set.

    Returns
    -------
    pandas.DataFrame
        One row per record; string columns have surrounding whitespace stripped, boolean text columns are
        ``bool`` (``boolean`` when they have missing values).

    Raises
    ------
    DataError
        Missing file, unknown format, unreadable content, an empty table, an SQL database that cannot be
        reached, or an unknown table.
    """
    na = list(DEFAULT_NA_VALUES if na_values is None else na_values)
    if is_sql_url(source):
        return _read_sql(str(source), table=table, query=query, nrows=nrows, chunk_rows=chunk_rows)
    path, fmt = _file_source(source)
    ctx: dict[str, Any] = {"notes": []}
    with _read_errors(path, fmt, ctx):
        if fmt in ("csv", "tsv"):
            options = _csv_options(path, fmt, sep, decimal, header, na, encoding, ctx)
            df = _exact_whole_numbers(pd.read_csv(path, nrows=nrows, **options), path, options, nrows, ctx)
        elif fmt == "parquet":
            df = pd.read_parquet(path)
        elif fmt == "jsonl":
            df = pd.read_json(path, lines=True, nrows=nrows)
        elif fmt == "json":
            df = pd.read_json(path, orient="records")
        else:
            df = pd.read_excel(path, sheet_name=sheet_name, na_values=na, keep_default_na=False, nrows=nrows)
    if nrows is not None:
        df = df.head(nrows)
    df = tidy_table(df, str(path))
    if ctx["notes"]:
        df.attrs["read_notes"] = ctx["notes"]
    return df


def iter_table(
    source: str | os.PathLike[str],
    *,
    chunk_rows: int = 100_000,
    table: str | None = None,
    query: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    na_values: Iterable[str] | None = None,
    encoding: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of at most ``chunk_rows`` rows, as :func:`read_table` reads it whole.

    CSV/TSV (optionally ``.gz``) and JSON Lines are parsed ``chunk_rows`` lines at a time, Parquet one
    record batch at a time (pyarrow), SQL through a server-side cursor on a read-only connection; JSON
    and Excel files, which have no streaming reader, arrive as one chunk. Each chunk's column names and
    string values are stripped; boolean text is left as text (a chunk cannot tell whether a later one
    holds other values), so callers that assemble rows apply :func:`tidy_table` once at the end.

    Yields
    ------
    DataFrame
        ``(≤ chunk_rows, columns)`` per chunk, in file order.

    Raises
    ------
    DataError
        As :func:`read_table`, raised when the damaged part is reached.
    """
    na = list(DEFAULT_NA_VALUES if na_values is None else na_values)
    if is_sql_url(source):
        yield from _iter_sql(str(source), table=table, query=query, chunk_rows=chunk_rows)
        return
    path, fmt = _file_source(source)
    ctx: dict[str, Any] = {"notes": []}
    with _read_errors(path, fmt, ctx):
        if fmt in ("csv", "tsv"):
            options = _csv_options(path, fmt, sep, decimal, 0, na, encoding, ctx)
            with pd.read_csv(path, chunksize=chunk_rows, **options) as reader:
                for chunk in reader:
                    yield _strip(chunk)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield _strip(batch.to_pandas())
        elif fmt == "jsonl":
            with pd.read_json(path, lines=True, chunksize=chunk_rows) as reader:
                for chunk in reader:
                    yield _strip(chunk)
        else:
            yield _strip(read_table(path, sep=sep, decimal=decimal, na_values=na, encoding=encoding))


def file_not_found(path: str | os.PathLike[str]) -> DataError:
    """The one-line error for an input path that does not exist (to be raised by the caller)."""
    return DataError(f"{path}: file not found; check the path (or use a bundled dataset such as 'adult')")


def _file_source(source: str | os.PathLike[str]) -> tuple[Path, str]:
    path = Path(source)
    if not path.exists():
        raise file_not_found(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a file, or an SQL URL with table=")
    return path, _file_format(path)


#: rows of a delimited file read again as text to find numbers written with leading zeros
TEXT_PROBE_ROWS = 10_000
#: a number written with a leading zero (``00123``, ``0123.5``): a code whose zeros are part of it
LEADING_ZERO = re.compile(r"^[+-]?0\d+(\.\d*)?$")


def _exact_whole_numbers(
    df: pd.DataFrame, path: Path, options: dict[str, Any], nrows: int | None, ctx: dict[str, Any]
) -> pd.DataFrame:
    """Numeric columns that pandas would change, re-read as text so that no value changes, each with a
    note in ``ctx["notes"]``:

    * whole numbers beyond 2^53 in a column with a missing value, which pandas reads as float64,
      rounding them (an id 2^60 + 1 becomes 2^60);
    * numbers written with leading zeros (``00123``, postcodes, account numbers), which would lose
      them; found in the first :data:`TEXT_PROBE_ROWS` rows.
    """
    import numpy as np

    rounded, zeros = [], []
    numeric = [
        c
        for c in df.columns
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
    ]
    for col in numeric:
        s = df[col]
        if s.dtype != np.float64:
            continue
        values = s.dropna().to_numpy()
        if values.size and np.abs(values).max() >= MAX_EXACT_INT and (values == np.floor(values)).all():
            rounded.append(col)
    if numeric:
        where = [df.columns.get_loc(c) for c in numeric]
        probe = pd.read_csv(
            path,
            **{
                **options,
                "usecols": where,
                "dtype": str,
                "nrows": min(nrows or TEXT_PROBE_ROWS, TEXT_PROBE_ROWS),
            },
        )
        zeros = [
            c
            for c in numeric
            if c not in rounded and probe[c].dropna().str.strip().str.match(LEADING_ZERO).any()
        ]
    if not rounded and not zeros:
        return df
    where = [df.columns.get_loc(c) for c in rounded + zeros]
    text = pd.read_csv(path, nrows=nrows, **{**options, "usecols": where, "dtype": str})
    for col in rounded:
        df[col] = text[col].to_numpy()
        ctx["notes"].append(
            f"{col}: whole numbers beyond 2^53 with missing values were kept as text (as numbers they would "
            "be rounded)"
        )
    for col in zeros:
        df[col] = text[col].to_numpy()
        ctx["notes"].append(f"{col}: numbers written with leading zeros (e.g. codes) were kept as text")
    return df


def _csv_options(path, fmt, sep, decimal, header, na, encoding, ctx) -> dict[str, Any]:
    """``pandas.read_csv`` keyword arguments for a delimited file: the encoding (guessed when ``None``;
    a note goes to ``ctx["notes"]``), the sniffed delimiter and decimal mark, the header checked for
    duplicate names. ``ctx`` keeps the delimiter and encoding for the error messages."""
    errors = "strict"
    if encoding is None:
        encoding, fallback, note = _guess_encoding(path)
        errors = fallback or errors
        if note:
            ctx["notes"].append(note)
            warnings.warn(note, DataWarning, stacklevel=4)
    ctx["encoding"] = encoding
    head = _read_head(path, encoding=encoding)
    if not head.strip():
        raise DataError(f"{path}: the file is empty; point to a file that holds a header and rows")
    delim = "\t" if fmt == "tsv" and sep is None else (sep or _sniff_delimiter(head))
    ctx["delim"] = delim
    dec = decimal or _sniff_decimal(head, delim)
    if header == 0 or header == "infer":
        _check_header(path, delim, encoding)
    return {
        "sep": delim,
        "decimal": dec,
        "header": header,
        "na_values": na,
        "keep_default_na": False,
        "skipinitialspace": True,
        "encoding": encoding,
        "encoding_errors": errors,
        "low_memory": False,
    }


@contextlib.contextmanager
def _read_errors(path: Path, fmt: str, ctx: dict[str, Any]) -> Iterator[None]:
    """Turn the readers' exceptions into one-line :class:`DataError` messages with the fix."""
    try:
        yield
    except DataError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{path}: damaged or truncated compressed file ({_one_line(exc)}); recompress or re-download it"
        ) from None
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty; point to a file that holds a header and rows") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid {ctx.get('encoding')} text ({exc.reason}); pass the right encoding"
        ) from exc
    except pd.errors.ParserError as exc:
        if fmt in ("csv", "tsv") and "delim" in ctx:
            bad = _bad_lines(path, ctx["delim"], ctx["encoding"])
            if bad:
                shown = ", ".join(str(line) for line in bad[:10]) + (" …" if len(bad) > 10 else "")
                raise DataError(
                    f"{path}: {len(bad)} malformed rows (a field count that differs from the header) at "
                    f"line(s) {shown}; fix or remove them — no row was dropped"
                ) from exc
        raise DataError(f"{path}: cannot be read as {fmt}: {_one_line(exc)}") from exc
    except Exception as exc:  # parser errors of pandas/pyarrow/openpyxl
        raise DataError(f"{path}: cannot be read as {fmt}: {_one_line(exc)}") from exc


def _open_text(path: Path, encoding: str):
    """The file as text for the checks that count fields (header, malformed rows): a byte the encoding
    cannot decode is read as Latin-1 (:data:`FALLBACK`), as the full read does, never an error here."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, errors=FALLBACK, newline="")
    return open(path, encoding=encoding, errors=FALLBACK, newline="")


#: an error handler for UTF-8 text: a byte that is not valid UTF-8 is read as the Latin-1 character it
#: would be (``0xfc`` → ``ü``), so one stray byte changes one character, not the whole file
FALLBACK = "simulacra-latin1"


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(FALLBACK, _latin1_fallback)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _guess_encoding(path: Path) -> tuple[str, str | None, str | None]:
    """``(encoding, errors, note)`` for a text file: the encoding its byte-order mark names (UTF-8,
    UTF-16, UTF-32); else UTF-8 when the whole file decodes as UTF-8. A file with bytes that are not
    valid UTF-8 is decoded by the majority: mostly valid UTF-8 multi-byte characters → UTF-8 with each
    invalid byte read as Latin-1 (:data:`FALLBACK`); otherwise Latin-1 throughout. The note says which,
    how many bytes and where the first is."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        head = f.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, None, None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = 0, None
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                first = (offset + exc.start, chunk[exc.start])
                break
            offset += len(chunk)
    if first is None:
        return "utf-8-sig", None, None
    invalid, multibyte = 0, 0

    def count(exc: UnicodeError) -> tuple[str, int]:
        nonlocal invalid
        invalid += exc.end - exc.start  # type: ignore[attr-defined]
        return "", exc.end  # type: ignore[attr-defined]

    codecs.register_error("simulacra-count", count)
    decoder = codecs.getincrementaldecoder("utf-8")("simulacra-count")
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            multibyte += sum(ord(c) > 0x7F for c in decoder.decode(chunk))
    where = f"{invalid} byte(s) not valid UTF-8, the first 0x{first[1]:02x} at offset {first[0]}"
    if multibyte > invalid:
        return (
            "utf-8",
            FALLBACK,
            (
                f"{path.name}: {where}; the file is otherwise UTF-8 ({multibyte} characters), so those bytes were "
                "read as Latin-1 characters; check them, or give the encoding"
            ),
        )
    return "latin-1", None, f"{path.name}: {where}; decoded as Latin-1"


def _check_header(path: Path, delim: str, encoding: str) -> None:
    """Refuse duplicate column names (pandas would silently rename the second ``a`` to ``a.1``)."""
    with _open_text(path, encoding) as f:
        names = next(csv.reader(f, delimiter=delim, skipinitialspace=True), [])
    names = [n.strip() for n in names]
    _check_width(path, len(names))
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(names, start=1):
        seen.setdefault(n, []).append(i)
    dup = {n: cols for n, cols in seen.items() if len(cols) > 1}
    if dup:
        name, cols = next(iter(dup.items()))
        raise DataError(
            f"{path}: column name {name!r} appears {len(cols)} times (columns {', '.join(map(str, cols))}); "
            "rename them so that each column has its own name"
        )


def _check_width(source: Any, columns: int) -> None:
    """Refuse a table of more than :data:`MAX_COLUMNS` columns before it is built.

    Raises
    ------
    DataError
        With the count and the fix (select the columns, or check the delimiter).
    """
    if columns > MAX_COLUMNS:
        raise DataError(
            f"{source}: {columns:,} columns, more than the {MAX_COLUMNS:,} simulacra reads; keep the "
            "columns you need (or check the delimiter, if the file should have fewer)"
        )


def _bad_lines(path: Path, delim: str, encoding: str) -> list[int]:
    """Line numbers (1-based, header = line 1) of rows whose field count differs from the header's."""
    bad = []
    with _open_text(path, encoding) as f:
        reader = csv.reader(f, delimiter=delim)
        width = len(next(reader, []))
        for row in reader:
            if row and len(row) != width:
                bad.append(reader.line_num)
    return bad


def _read_only_url(url: str) -> Any:
    """Any SQLite file URL — every driver variant, and ``file:`` URIs whatever their ``mode`` — as the
    standard driver's read-only URI (``mode=ro``): a query can then neither change the file nor create
    it, and (with the engine's limits) ``ATTACH`` no other. Other URLs are returned unchanged."""
    db = sqlite_file(url)
    if db is None:
        return url
    parsed = _parsed_url(url)
    query = {k: v for k, v in parsed.query.items() if k not in ("mode", "uri")}
    return parsed.set(
        drivername="sqlite",
        database=f"file:{quote(db, safe='/')}",
        query={**query, "mode": "ro", "uri": "true"},
    )


def _engine(url: str, *, read_only: bool = False):
    import sqlalchemy as sa

    _check_credentials(url)
    try:
        engine = sa.create_engine(_read_only_url(url) if read_only else url)
    except Exception as exc:
        raise DataError(
            f"{redact_url(url)}: not a usable SQLAlchemy URL ({_one_line(exc)}); e.g. sqlite:///file.db"
        ) from exc
    if read_only and engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA query_only = ON")
            # ATTACH opens (and creates) other files even on a read-only connection: allow none
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)

    elif read_only:
        # PostgreSQL and MySQL: every transaction of this engine is READ ONLY
        @sa.event.listens_for(engine, "begin")
        def _read_only_transaction(conn):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    if engine.dialect.name == "sqlite" and not read_only:
        # pysqlite commits DDL (DROP/CREATE TABLE) on its own; SQLAlchemy's documented recipe makes
        # the whole replace-and-insert one real transaction.
        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")

    return engine


#: the table in which simulacra lists the SQL tables it wrote (like a model folder's marker file):
#: ``--force`` replaces only a table listed there
SQL_REGISTRY = "simulacra_tables"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _registry():
    import sqlalchemy as sa

    return sa.Table(
        SQL_REGISTRY,
        sa.MetaData(),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("written_at", sa.String(40), nullable=False),
    )


def _claim_sql_table(conn, table: str, *, replace: bool, shown: str) -> None:
    """Refuse to write ``table`` where it exists, unless ``replace`` and simulacra wrote it (it is
    listed in :data:`SQL_REGISTRY`); never write the registry itself.

    Raises
    ------
    OutputExistsError
        The table exists and may not be replaced.
    ConfigError
        ``table`` is the registry's name.
    """
    import sqlalchemy as sa

    if table == SQL_REGISTRY:
        raise ConfigError(
            f"{shown}: table {table!r} is where simulacra lists its own tables; choose another name"
        )
    names = set(sa.inspect(conn).get_table_names())
    if table not in names:
        return
    if not replace:
        raise OutputExistsError(
            f"{shown}: table {table!r} already exists; pass `force` to replace it or choose another"
        )
    reg = _registry()
    owned = SQL_REGISTRY in names and (
        conn.execute(sa.select(reg.c.name).where(reg.c.name == table)).first() is not None
    )
    if not owned:
        raise OutputExistsError(
            f"{shown}: table {table!r} was not written by simulacra, and `force` replaces only simulacra's own "
            f"tables (listed in {SQL_REGISTRY}); choose another table name (or drop it yourself)"
        )


def _record_sql_table(conn, table: str) -> None:
    """List ``table`` in :data:`SQL_REGISTRY` (created if missing), in the writing transaction."""
    import datetime

    import sqlalchemy as sa

    reg = _registry()
    reg.create(conn, checkfirst=True)
    conn.execute(sa.delete(reg).where(reg.c.name == table))
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    conn.execute(sa.insert(reg).values(name=table, written_at=stamp))


def _check_sql_target(url: str, table: str, *, force: bool, append: bool = False) -> None:
    """Before any work: an SQLite target file is a database (or absent, in a writable folder), and the
    table may be written (:func:`_claim_sql_table`), checked over a read-only connection.

    Raises
    ------
    ConfigError, OutputExistsError, DataError
        A file that is not an SQLite database, a table that may not be replaced, or an unreachable
        database.
    """
    import sqlalchemy as sa

    shown = redact_url(url)
    db = sqlite_file(url)
    if db is not None:
        path = Path(db)
        check_writable(path, kind="file")
        if not path.exists():
            if table == SQL_REGISTRY:
                raise ConfigError(
                    f"{shown}: table {table!r} is where simulacra lists its own tables; choose another name"
                )
            return
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise ConfigError(f"{shown}: {db} exists and is not an SQLite database; give another file")
    engine = _engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            if not (append and sa.inspect(conn).has_table(table)):
                _claim_sql_table(conn, table, replace=force, shown=shown)
    except (OutputExistsError, ConfigError):
        raise
    except Exception as exc:
        reason = _one_line(getattr(exc, "orig", None) or exc)
        raise DataError(f"{shown}: cannot open the database ({reason}); check the URL and server") from exc
    finally:
        engine.dispose()


def _remove_new_database(db: str | None) -> None:
    """Delete a SQLite file (and its journals) that a failed write created: a failure leaves nothing."""
    if db is None:
        return
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(db + suffix)


def _read_chunks(stmt, conn, chunk_rows: int, nrows: int | None = None) -> pd.DataFrame:
    """Read a result set in chunks of ``chunk_rows`` through a server-side cursor (``stream_results``;
    PostgreSQL and MySQL drivers then never hold the whole result set as Python rows next to the
    DataFrame), stopping after ``nrows``."""
    conn = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows)
    parts, total = [], 0
    for chunk in pd.read_sql(stmt, conn, chunksize=chunk_rows):
        parts.append(chunk)
        total += len(chunk)
        if nrows is not None and total >= nrows:
            break
    if not parts:
        return pd.read_sql(stmt, conn)  # no rows: still the right columns
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return df.head(nrows) if nrows is not None else df


def _read_sql(
    url: str, *, table: str | None, query: str | None, nrows: int | None, chunk_rows: int = 50_000
) -> pd.DataFrame:
    with _sql_source(url, table, query) as (conn, stmt, shown, name):
        if name is not None:  # a table: the database stops after nrows
            df = _read_chunks(stmt.limit(nrows) if nrows is not None else stmt, conn, chunk_rows)
        else:
            df = _read_chunks(stmt, conn, chunk_rows, nrows)
    return tidy_table(df, f"{shown} ({name or 'query'})")


def _iter_sql(url: str, *, table: str | None, query: str | None, chunk_rows: int) -> Iterator[pd.DataFrame]:
    with _sql_source(url, table, query) as (conn, stmt, _, _):
        conn = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows)
        for chunk in pd.read_sql(stmt, conn, chunksize=chunk_rows):
            yield _strip(chunk)


#: the longest SQL a query file may hold
MAX_QUERY_BYTES = 1_000_000


def _query_text(query: str, shown: str) -> str:
    """The SQL of a ``query`` value: the text itself, or, for ``@PATH``, the content of that file
    (UTF-8, at most :data:`MAX_QUERY_BYTES`), which no shell or URL quoting can change.

    Raises
    ------
    DataError
        A query file that is missing, too large or not UTF-8.
    """
    if not query.startswith("@"):
        return query
    path = Path(query[1:])
    if not path.is_file():
        raise DataError(f"{shown}: query file {path} not found; give query=@FILE.sql with an existing file")
    if path.stat().st_size > MAX_QUERY_BYTES:
        raise DataError(f"{shown}: query file {path} is over {MAX_QUERY_BYTES:,} bytes; give one SELECT")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise DataError(f"{shown}: query file {path} is not UTF-8 text; save it as UTF-8") from None
    if not text:
        raise DataError(f"{shown}: query file {path} is empty; write one SELECT in it")
    return text


@contextlib.contextmanager
def _sql_source(url: str, table: str | None, query: str | None):
    """A read-only connection and the SELECT of ``table`` or ``query`` (``(conn, stmt, shown URL,
    table name or None)``), with the database's errors turned into one-line :class:`DataError` messages."""
    import sqlalchemy as sa

    url, ours = _split_url(url)
    table = table or ours.get("table")
    query = query or ours.get("query")
    shown = redact_url(url)
    if bool(table) == bool(query):
        raise DataError(f"{shown}: give exactly one of table= or query= (e.g. '{shown}?table=NAME')")
    if query:
        query = _query_text(query, shown)
    db = sqlite_file(url)
    if db is not None and not Path(db).is_file():  # checked first: a read must create nothing
        raise DataError(f"{shown}: database file {db} not found; check the path")
    engine = _engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            if table:
                names = sa.inspect(conn).get_table_names()
                if table not in names:
                    listed = ", ".join(names[:20]) or "none"
                    raise DataError(f"{shown}: no table {table!r}; tables there: {listed}")
                stmt = sa.select(sa.Table(table, sa.MetaData(), autoload_with=conn))
            else:
                stmt = sa.text(query)
            yield conn, stmt, shown, table
    except DataError:
        raise
    except sa.exc.OperationalError as exc:
        reason = _one_line(exc.orig or exc)
        raise DataError(
            f"{shown}: cannot connect or query ({reason}); check the URL, server and SQL"
        ) from exc
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps the SQLAlchemy error of a text query in its own DatabaseError
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
        if isinstance(cause, sa.exc.OperationalError):
            reason = _one_line(cause.orig or cause)
            raise DataError(
                f"{shown}: cannot connect or query ({reason}); check the URL, server and SQL"
            ) from exc
        reason = _one_line(getattr(cause, "orig", None) or cause)
        raise DataError(f"{shown}: query failed ({reason}); check the SQL") from exc
    finally:
        engine.dispose()


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The parsed content of a YAML file (configs, pipelines).

    Raises
    ------
    ConfigError
        The file is missing or is not valid YAML (the message gives the parser's first line).
    """
    import yaml

    from simulacra.validation import load_yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


#: Formats a file may be written in, and which of them take a ``.gz`` suffix (compressed text).
WRITE_FORMATS = ("csv", "tsv", "parquet", "jsonl", "json", "excel")
_COMPRESSIBLE = ("csv", "tsv", "jsonl", "json")
#: Excel's sheet limit: 1,048,576 rows, one of them the header.
EXCEL_MAX_ROWS = 1_048_575
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_table_target(
    target: str | os.PathLike[str], *, rows: int | None = None, force: bool = False, append: bool = False
) -> str:
    """Check, before any work, that a table of ``rows`` rows can be written to ``target``: a known
    writable format (``.xls`` is read-only here; Parquet and Excel are compressed already, so no
    ``.gz``), Excel's row limit, a writable place, and no existing file unless ``force``; for SQL, not an
    in-memory database (its rows would vanish when the process ends), an SQLite file that is a
    database, and no existing table unless ``force`` and simulacra wrote it (:data:`SQL_REGISTRY`), or
    ``append`` (rows added to an SQL table, which replaces nothing). Returns the format, or ``"sql"``.

    Raises
    ------
    ConfigError
        The target cannot take the table (the message says why and what to use).
    OutputExistsError
        The file or table exists and ``force`` is false, or the table was not written by simulacra.
    DataError
        The database cannot be opened.
    """
    if is_sql_url(target):
        url, _ = _split_url(str(target))
        parsed = _parsed_url(url)
        sqlite = parsed is not None and parsed.get_backend_name() == "sqlite"  # any driver variant
        if (sqlite and (sqlite_file(url) is None or str(parsed.query.get("mode", "")) == "memory")) or (
            "mode=memory" in url
        ):
            raise ConfigError(
                f"{target}: an in-memory SQLite database is gone when simulacra exits, with the rows written "
                "to it; give a database file, e.g. sqlite:///out.db?table=synthetic"
            )
        _check_sql_target(
            url, _split_url(str(target))[1].get("table") or "synthetic", force=force, append=append
        )
        return "sql"
    path = Path(target)
    fmt = _file_format(path)
    if path.suffix.lower() == ".gz" and fmt not in _COMPRESSIBLE:
        raise ConfigError(
            f"{path}: {fmt} files cannot be written gzip-compressed; drop the .gz ({fmt} compresses by itself)"
        )
    if (path.suffixes and path.suffixes[-1].lower() == ".xls") or (
        len(path.suffixes) > 1 and path.suffixes[-2].lower() == ".xls" and path.suffix.lower() == ".gz"
    ):
        raise ConfigError(f"{path}: the old .xls format is read-only here; write .xlsx")
    if fmt == "excel" and rows is not None and rows > EXCEL_MAX_ROWS:
        raise ConfigError(
            f"{path}: {rows:,} rows do not fit in an Excel sheet (at most {EXCEL_MAX_ROWS:,}); "
            "write .parquet or .csv instead"
        )
    check_writable(path, kind="file")
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; choose another path or pass `force` to overwrite")
    return fmt


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` in which every text value that a spreadsheet would run as a formula (starting with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with an apostrophe, the OWASP
    advice against CSV/formula injection; numbers are untouched. Used for ``.xlsx`` output always and
    for ``.csv``/``.tsv`` output unless the writer is told otherwise (``escape=False``, the CLI's
    ``--keep-formulas``): a spreadsheet opening a CSV runs ``=HYPERLINK(…)`` as readily as in a
    workbook. The apostrophe is a change of the value, which is why it can be turned off."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            risky = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
            if risky.any():
                out[col] = s.where(~risky, "'" + s[risky].astype(str))
    return out


def _atomic_write_file(df: pd.DataFrame, path: Path, fmt: str, force: bool, escape: bool = True) -> None:
    tmp = temporary_file_for(path, force=force)
    try:
        compression = "gzip" if path.suffix.lower() == ".gz" else None
        if fmt in ("csv", "tsv") and escape:
            df = escape_formulas(df)
        if fmt == "csv":
            df.to_csv(tmp, index=False, compression=compression)
        elif fmt == "tsv":
            df.to_csv(tmp, index=False, sep="\t", compression=compression)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        elif fmt == "jsonl":
            df.to_json(tmp, orient="records", lines=True, date_format="iso", compression=compression)
        elif fmt == "json":
            df.to_json(tmp, orient="records", date_format="iso", compression=compression)
        else:
            escape_formulas(df).to_excel(tmp, index=False, engine="openpyxl")
        finish_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(
    df: pd.DataFrame,
    target: str | os.PathLike[str],
    *,
    table: str | None = None,
    if_exists: str = "fail",
    force: bool = False,
    escape: bool = True,
) -> str:
    """Write ``df`` to a file (format from the suffix) or to an SQL table, atomically.

    Parameters
    ----------
    df:
        The table to write.
    target:
        A path ending in ``.csv``, ``.tsv``, ``.jsonl``, ``.json`` (each optionally ``.gz``),
        ``.parquet`` or ``.xlsx``; or an SQLAlchemy URL (``sqlite:///out.db``), with the table given by
        ``table=`` or ``?table=NAME`` (default ``synthetic``). See :func:`check_table_target` for what
        is refused. In ``.xlsx`` output, text that a spreadsheet would run as a formula is escaped
        (:func:`escape_formulas`); in ``.csv`` and ``.tsv`` output too, unless ``escape`` is false.
    if_exists:
        For SQL: ``"fail"`` (default), ``"replace"`` or ``"append"``. ``force=True`` means ``"replace"``.
    force:
        Overwrite an existing file or table.

    Returns
    -------
    str
        Where the data went (the path, or ``URL table``).

    Raises
    ------
    OutputExistsError
        The file or table exists and neither ``force`` nor an ``if_exists`` other than ``"fail"`` says to
        replace it.
    DataError
        Unknown format, or the database cannot be reached. Nothing is left half-written.
    ConfigError
        A target that cannot take the table (:func:`check_table_target`).
    """
    fmt = check_table_target(target, rows=len(df), force=force, append=if_exists == "append")
    if fmt == "sql":
        return _write_sql(df, str(target), table=table, if_exists="replace" if force else if_exists)
    _atomic_write_file(df, Path(target), fmt, force, escape)
    return str(target)


def _write_sql(df: pd.DataFrame, url: str, *, table: str | None, if_exists: str) -> str:
    import sqlalchemy as sa

    if if_exists not in ("fail", "replace", "append"):
        raise DataError(f"if_exists={if_exists!r}: use 'fail', 'replace' or 'append'")
    url, ours = _split_url(url)
    table = table or ours.get("table") or "synthetic"
    shown = redact_url(url)
    db = sqlite_file(url)
    created = db if db is not None and not Path(db).exists() else None
    engine = _engine(url)
    try:
        with engine.begin() as conn:  # one transaction: all or nothing
            if if_exists == "append" and sa.inspect(conn).has_table(table):
                pass  # asked for: rows are added, nothing is replaced
            else:
                _claim_sql_table(conn, table, replace=if_exists == "replace", shown=shown)
                _record_sql_table(conn, table)
            df.to_sql(table, conn, if_exists=if_exists, index=False, chunksize=10_000)
    except BaseException as exc:
        engine.dispose()
        _remove_new_database(created)
        if isinstance(exc, OutputExistsError | DataError | ConfigError) or not isinstance(exc, Exception):
            raise
        # driver, SQLAlchemy or pandas errors: the transaction was rolled back
        reason = _one_line(getattr(exc, "orig", None) or exc)
        raise DataError(f"{shown}: cannot write table {table!r} ({reason}); nothing was changed") from exc
    engine.dispose()
    return f"{shown} {table}"


class TableWriter:
    """Write one table in pieces with bounded memory: a context manager whose :meth:`write` takes
    DataFrames (same columns each time) and which puts the whole table in place only when the block ends
    without an error.

    * Files are written under a temporary name and moved into place at the end (as
      :func:`write_table` does); an error or an interruption removes the temporary and leaves any
      previous file untouched.
    * Parquet: each piece becomes one row group of a single file (``pyarrow.parquet.ParquetWriter``);
      the schema is the first piece's, later pieces are cast to it (a column that is all-missing in the
      first piece is stored as text).
    * CSV/TSV and JSON Lines (optionally ``.gz``): pieces are appended, the header once. JSON (one
      array of records) is streamed too. Excel keeps the pieces in memory (a sheet holds at most
      :data:`EXCEL_MAX_ROWS` rows) and writes them at the end.
    * SQL: all pieces are inserted in one transaction, so a failure leaves the previous table (or no
      table) exactly as it was.

    Parameters
    ----------
    target : str or path-like
        As for :func:`write_table`.
    table : str, optional
        SQL table name (else ``?table=NAME`` in the URL, else ``synthetic``).
    rows : int, optional
        Rows that will be written, when known: checked against Excel's limit before any work.
    force : bool
        Replace an existing file (one simulacra may replace, see :func:`~simulacra.io.outputs.claim`)
        or table.
    escape : bool
        Escape text that a spreadsheet would run as a formula in CSV/TSV output (always in Excel
        output; :func:`escape_formulas`).

    Raises
    ------
    ConfigError, OutputExistsError, DataError
        As :func:`write_table`, raised when the writer is created or entered, before any piece.

    Examples
    --------
    >>> with TableWriter("synthetic.parquet") as out:          # doctest: +SKIP
    ...     for piece in pieces:
    ...         out.write(piece)
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        table: str | None = None,
        rows: int | None = None,
        force: bool = False,
        escape: bool = True,
    ) -> None:
        self.target = target
        self.fmt = check_table_target(target, rows=rows, force=force)
        self.force = force
        self.escape = escape
        self.table = table
        self.rows = 0
        self._tmp: Path | None = None
        self._handle: Any = None
        self._parquet: Any = None
        self._schema: Any = None
        self._pieces: list[pd.DataFrame] = []
        self._sql: Any = None
        self._columns: list[Any] | None = None
        self._started = False
        if self.fmt == "sql":
            url, ours = _split_url(str(target))
            self.table = table or ours.get("table") or "synthetic"
            self._shown = redact_url(url)

    # ------------------------------------------------------------------ context
    def __enter__(self) -> TableWriter:
        if self.fmt == "sql":
            self._open_sql()
            return self
        path = Path(self.target)
        self._tmp = temporary_file_for(path, force=self.force)
        if self.fmt in ("csv", "tsv", "jsonl", "json"):
            if path.suffix.lower() == ".gz":
                self._handle = gzip.open(self._tmp, "wt", encoding="utf-8", newline="")
            else:
                self._handle = open(self._tmp, "w", encoding="utf-8", newline="")
            if self.fmt == "json":
                self._handle.write("[")
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if self.fmt == "sql":
            self._close_sql(kind, exc, tb)
            return
        assert self._tmp is not None
        try:
            if kind is None:
                self._finish_file()
        except BaseException:
            kind = kind or BaseException
            raise
        finally:
            if self._handle is not None and not self._handle.closed:
                self._handle.close()
            if self._parquet is not None:
                with contextlib.suppress(Exception):
                    self._parquet.close()
            if kind is not None:
                self._tmp.unlink(missing_ok=True)

    def _finish_file(self) -> None:
        assert self._tmp is not None
        path = Path(self.target)
        if self.fmt == "json":
            self._handle.write("]\n")
        if self._handle is not None:
            self._handle.close()
        if self.fmt == "parquet":
            if self._parquet is None:  # no rows at all: still a readable file with no columns
                pd.DataFrame().to_parquet(self._tmp, index=False)
            else:
                self._parquet.close()
        elif self.fmt == "excel":
            whole = pd.concat(self._pieces, ignore_index=True) if self._pieces else pd.DataFrame()
            escape_formulas(whole).to_excel(self._tmp, index=False, engine="openpyxl")
        finish_file(self._tmp, path)

    # ------------------------------------------------------------------ pieces
    def write(self, df: pd.DataFrame) -> None:
        """Append the rows of ``df`` (the first piece fixes the columns and, for Parquet, the types).

        Raises
        ------
        DataError
            A piece whose columns differ from the first piece's, or a database error (the transaction
            is then rolled back when the block ends).
        """
        if self._columns is None:
            self._columns = list(df.columns)
        elif list(df.columns) != self._columns:
            raise DataError(
                f"{self.target}: a piece has columns {list(df.columns)[:5]}…, the first had "
                f"{self._columns[:5]}…; every piece of one table needs the same columns"
            )
        first = not self._started
        self._started = True
        if self.fmt in ("csv", "tsv"):
            df = escape_formulas(df) if self.escape else df
            df.to_csv(self._handle, index=False, header=first, sep="\t" if self.fmt == "tsv" else ",")
        elif self.fmt == "jsonl":
            if len(df):
                text = df.to_json(orient="records", lines=True, date_format="iso")
                self._handle.write(text if text.endswith("\n") else text + "\n")
        elif self.fmt == "json":
            if len(df):
                body = df.to_json(orient="records", date_format="iso")[1:-1]
                self._handle.write(("" if self.rows == 0 else ",") + body)
        elif self.fmt == "parquet":
            self._write_parquet(df)
        elif self.fmt == "excel":
            if self.rows + len(df) > EXCEL_MAX_ROWS:
                raise ConfigError(
                    f"{self.target}: more than {EXCEL_MAX_ROWS:,} rows do not fit in an Excel sheet; "
                    "write .parquet or .csv instead"
                )
            self._pieces.append(df)
        else:
            self._write_sql(df, first)
        self.rows += len(df)

    def _write_parquet(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        piece = pa.Table.from_pandas(df, preserve_index=False)
        if self._parquet is None:
            fields = [
                pa.field(f.name, pa.large_string()) if pa.types.is_null(f.type) else f for f in piece.schema
            ]
            self._schema = pa.schema(fields, metadata=piece.schema.metadata)
            self._parquet = pq.ParquetWriter(self._tmp, self._schema)
        if not piece.schema.equals(self._schema, check_metadata=False):
            try:
                piece = piece.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{self.target}: a piece's column types differ from the first piece's and cannot be "
                    f"converted ({_one_line(exc)}); write one table per type"
                ) from exc
        self._parquet.write_table(piece, row_group_size=max(len(df), 1))

    # ------------------------------------------------------------------ SQL
    def _open_sql(self) -> None:
        url, _ = _split_url(str(self.target))
        db = sqlite_file(url)
        self._created = db if db is not None and not Path(db).exists() else None
        self._engine = _engine(url)
        self._sql = self._engine.begin()
        try:
            conn = self._sql.__enter__()
            _claim_sql_table(conn, self.table, replace=self.force, shown=self._shown)
            _record_sql_table(conn, self.table)
        except BaseException as exc:
            self._close_sql(type(exc), exc, exc.__traceback__)
            raise
        self._conn = conn

    def _write_sql(self, df: pd.DataFrame, first: bool) -> None:
        try:
            df.to_sql(
                self.table,
                self._conn,
                if_exists="replace" if first else "append",
                index=False,
                chunksize=10_000,
            )
        except Exception as exc:  # the transaction is rolled back when the block ends
            reason = _one_line(getattr(exc, "orig", None) or exc)
            raise DataError(
                f"{self._shown}: cannot write table {self.table!r} ({reason}); nothing was changed"
            ) from exc

    def _close_sql(self, kind, exc, tb) -> None:
        failed = kind is not None
        try:
            self._sql.__exit__(kind, exc, tb)  # commit, or roll back on an error
        except (OutputExistsError, DataError):
            failed = True
            raise
        except BaseException as err:
            failed = True
            if kind is not None or not isinstance(err, Exception):
                return  # the original error (or the interruption) is the one to report
            reason = _one_line(getattr(err, "orig", None) or err)
            raise DataError(
                f"{self._shown}: cannot write table {self.table!r} ({reason}); nothing was changed"
            ) from err
        finally:
            self._engine.dispose()
            if failed:
                _remove_new_database(self._created)

    @property
    def where(self) -> str:
        """Where the rows go: the path, or ``URL table``."""
        return f"{self._shown} {self.table}" if self.fmt == "sql" else str(self.target)
