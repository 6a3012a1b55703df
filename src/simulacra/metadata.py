"""Column metadata: what kind of data each column holds, detected from a DataFrame and editable by hand.

Each column gets an **sdtype** (semantic data type, SDV's term):

* ``numerical``   — numbers; ``representation`` is ``"int"`` when every value is whole, else ``"float"``.
* ``categorical`` — a finite set of labels (strings, or numbers used as codes).
* ``boolean``     — two truth values (``bool`` dtype, or text spelled true/false, yes/no, y/n, t/f).
* ``datetime``    — timestamps; ``format`` is the ``strftime`` pattern of text dates, ``"mixed"`` when
  the column mixes formats, ``None`` for native datetime columns.
* ``id``          — a unique key; synthesizers generate fresh keys, never copy real ones.
* ``text``        — free text (messages, reviews, notes). Table models refuse it with a one-line error
  that names the column: drop the column, override its sdtype, or fit a text model on it
  (``simulacra fit FILE --model textgpt --text-column NAME``).
* ``pii``         — a personal identifier; ``pii`` names its kind (:data:`PII_KINDS`: ``email``,
  ``phone``, ``credit_card``, ``iban``, ``ip``, ``url``, ``postcode``, ``name``, ``first_name``,
  ``last_name``) and ``locale`` the Faker locale of its values (detected, or set by hand). Models
  never learn such a column: :mod:`simulacra.transform.pii` generates it fresh, or as keyed-hash
  pseudonyms.

Detection rules, applied in this order (:meth:`Metadata.detect`; ``simulacra inspect`` prints which rule
fired for each column so a user can override it):

1. every value missing → ``categorical`` (nothing to learn; it is reproduced as all-missing);
2. ``bool`` dtype → ``boolean``; datetime dtype → ``datetime``;
3. personal identifiers (:func:`detect_pii`) → ``pii``: by their values, when at least
   :data:`PII_SHARE` of them (of up to 2,000 distinct ones) are e-mail addresses, URLs, IP addresses,
   IBANs (mod-97 checksum) or card numbers of 12–19 digits (Luhn checksum); by the column's name and
   its values for phone numbers (``phone``, ``tel``, ``mobile``…, 7–15 digits; or values written like
   phone numbers, with a ``+`` or separators, whatever the name), postcodes (``zip``, ``postcode``,
   ``postal``…) and person names (``name``, ``first_name``, ``surname``, ``customer_name``…, values of
   letters and at most four words);
4. numeric dtype → ``id`` if the name looks like a key (``id``, ``*_id``, ``uuid``, ``key``) and every
   value is a distinct integer, else ``numerical``;
5. text → ``boolean`` if its values are one of the true/false spellings; ``numerical`` if every value
   parses as a number; ``datetime`` if every value parses as a date (one format, or ``mixed``) and the
   values look like dates (digits and separators); ``text`` if the values are strings with a median of
   at least :data:`TEXT_MIN_WORDS` whitespace-separated words and at least half of them are distinct
   (free text, not a short label); ``id`` if every value is distinct (≥ 20 rows); else ``categorical``.

``nullable`` records whether the column has missing values; ``min``/``max`` the observed bounds of
numerical and datetime columns (synthetic values are kept inside them). Written to a file
(:meth:`Metadata.to_dict`, ``simulacra inspect -o``), observed bounds appear as ``observed: {min,
max}``, information only; a ``min``/``max`` key in a metadata file is a *declaration* (public
knowledge that differentially private models use at no privacy cost), so it must come from outside
the data.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import MetadataError

SDTYPES = ("numerical", "categorical", "boolean", "datetime", "id", "text", "pii")
#: the kinds of personal identifier a ``pii`` column can hold
PII_KINDS = (
    "email",
    "phone",
    "credit_card",
    "iban",
    "ip",
    "url",
    "postcode",
    "name",
    "first_name",
    "last_name",
)
#: sdtypes that no table model learns: ids and identifiers are generated fresh, text needs a text model
NOT_LEARNED = ("id", "text", "pii")
#: the share of a column's values that must look like one kind of identifier for rule 3
PII_SHARE = 0.9
#: the median word count from which a column of distinct strings is free text (rule 4)
TEXT_MIN_WORDS = 4
_ID_NAME = re.compile(r"(^|_|\b)(id|uuid|guid|key)$", re.IGNORECASE)
_BOOL_SPELLINGS = [{"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}]
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.:]\d{1,2}[-/.:]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
)


@dataclass
class ColumnMetadata:
    """Metadata of one column.

    Attributes
    ----------
    sdtype: one of :data:`SDTYPES`.
    representation: ``"int"`` or ``"float"`` for numerical columns.
    format: datetime format (``strftime`` pattern, ``"mixed"``, or ``None`` for native datetimes).
    nullable: the column has missing values.
    min, max: observed bounds (numbers; ISO strings for datetimes).
    pii: the kind of personal identifier (:data:`PII_KINDS`) of a ``pii`` column.
    locale: the Faker locale of a ``pii`` column's values (``None``: detected when fitting).
    categories: the categories of a categorical/boolean column, when declared by hand (public
        knowledge that differentially private models use instead of estimating the category set).
    declared: the fields the user set (by :meth:`Metadata.update_column` or overrides), as opposed to
        detected from the data; DP models take a column's ``min``/``max`` or ``categories`` as public
        only when declared.
    reason: the detection rule that fired (informational; not used by models).
    """

    sdtype: str
    representation: str | None = None
    format: str | None = None
    nullable: bool = False
    min: Any = None
    max: Any = None
    pii: str | None = None
    locale: str | None = None
    categories: list[Any] | None = None
    declared: list[str] | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.sdtype not in SDTYPES:
            raise MetadataError(f"sdtype {self.sdtype!r} is not one of {', '.join(SDTYPES)}")
        if self.representation not in (None, "int", "float"):
            raise MetadataError(f"representation {self.representation!r} must be 'int' or 'float'")
        if self.sdtype == "pii" and self.pii not in PII_KINDS:
            raise MetadataError(
                f"a pii column needs its kind, pii: one of {', '.join(PII_KINDS)} (got {self.pii!r})"
            )
        if self.sdtype != "pii" and self.pii is not None:
            raise MetadataError(f"pii: {self.pii!r} is set on a {self.sdtype} column; set sdtype: pii too")
        if self.categories is not None and (
            not isinstance(self.categories, list)
            or len({repr(c) for c in self.categories}) != len(self.categories)
            or any(isinstance(c, dict | list) for c in self.categories)
        ):
            raise MetadataError("categories must be a list of distinct values, e.g. [Private, Self-emp]")
        if self.categories is not None and self.sdtype not in ("categorical", "boolean"):
            raise MetadataError(
                f"categories are declared for categorical or boolean columns, not {self.sdtype}"
            )
        if self.sdtype in ("numerical", "datetime") and {"min", "max"} <= set(self.declared or ()):
            if self.min is None or self.max is None or _bound(self, self.min) > _bound(self, self.max):
                raise MetadataError(
                    f"declared bounds min={self.min!r}, max={self.max!r} must be two values with min ≤ max"
                )
        if self.locale is not None and not (
            isinstance(self.locale, str) and re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", self.locale)
        ):
            raise MetadataError(f"locale {self.locale!r} is not a locale name like en_US or de_DE")


@dataclass
class Metadata:
    """Per-column metadata of a table (see the module docstring for the detection rules).

    ``columns`` maps column name → :class:`ColumnMetadata`, in the table's column order.
    """

    columns: dict[str, ColumnMetadata] = field(default_factory=dict)

    # ------------------------------------------------------------------ detection
    @classmethod
    def detect(cls, df: pd.DataFrame) -> Metadata:
        """Detect the metadata of every column of ``df``.

        Raises
        ------
        MetadataError
            When ``df`` has no columns or duplicate column names.
        """
        if df.shape[1] == 0:
            raise MetadataError("the table has no columns; nothing to detect")
        dupes = df.columns[df.columns.duplicated()].tolist()
        if dupes:
            raise MetadataError(f"duplicate column names {dupes}; rename them so each column is unique")
        return cls({str(c): _detect_column(str(c), df[c]) for c in df.columns})

    # ------------------------------------------------------------------ access and edits
    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __getitem__(self, name: str) -> ColumnMetadata:
        try:
            return self.columns[name]
        except KeyError:
            raise MetadataError(f"unknown column {name!r}; columns are: {', '.join(self.columns)}") from None

    def names_of(self, *sdtypes: str) -> list[str]:
        """Names of the columns whose sdtype is one of ``sdtypes``."""
        return [n for n, c in self.columns.items() if c.sdtype in sdtypes]

    def update_column(self, name: str, **changes: Any) -> None:
        """Change fields of one column, e.g. ``update_column("zip", sdtype="categorical")``."""
        col = self[name]
        unknown = set(changes) - set(ColumnMetadata.__dataclass_fields__)
        if unknown:
            raise MetadataError(f"column {name!r}: unknown metadata field(s) {sorted(unknown)}")
        new = asdict(col) | changes
        if "sdtype" in changes and changes["sdtype"] != "numerical":
            new["representation"] = None
        if "sdtype" in changes and changes["sdtype"] != "pii":
            new["pii"] = new["locale"] = None
        new["reason"] = "set by user"
        new["declared"] = sorted(set(col.declared or ()) | (set(changes) - {"reason", "declared"})) or None
        self.columns[name] = ColumnMetadata(**new)

    def apply_overrides(self, source: str | Path | dict[str, Any]) -> Metadata:
        """Apply hand edits from a JSON/YAML file or dict of the form ``{"columns": {name: {...}}}``.

        A bare ``{name: {...}}`` mapping is accepted too. Returns ``self``.
        """
        data = _load_mapping(source) if not isinstance(source, dict) else source
        cols = data.get("columns", data)
        if not isinstance(cols, dict):
            raise MetadataError(f"{source}: expected a mapping of column name → fields")
        for name, changes in cols.items():
            if not isinstance(changes, dict):
                raise MetadataError(
                    f"{source}: column {name!r} must map to fields, e.g. {{sdtype: categorical}}"
                )
            # observed bounds (as inspect -o writes them) are information, never a declaration
            changes = {k: v for k, v in changes.items() if k not in ("observed", "declared", "reason")}
            if changes:
                self.update_column(str(name), **changes)
        return self

    def validate(self, df: pd.DataFrame) -> None:
        """Check that ``df`` has exactly the metadata's columns, and that each column's values are of its
        sdtype: a model never turns values silently into missing ones, so a numerical column with text
        (after a hand-edited sdtype), a datetime column with unparseable values, or ±inf is refused.

        Raises
        ------
        MetadataError
            Naming the missing or unexpected columns, or the column, how many values do not fit and one
            of them.
        """
        missing = [c for c in self.columns if c not in df.columns]
        extra = [str(c) for c in df.columns if str(c) not in self.columns]
        if missing or extra:
            raise MetadataError(
                f"data and metadata disagree: missing columns {missing}, unexpected columns {extra}; "
                "re-detect the metadata or fix the data"
            )
        self.check_values(df)

    def check_values(self, df: pd.DataFrame) -> None:
        """Check that each metadata column of ``df`` holds values of its sdtype (numbers in a numerical
        column, dates in a datetime one, two values in a boolean one, no ±inf); columns of ``df`` that
        the metadata lacks are not looked at. :meth:`validate` without the column-set check, for a
        table judged against another's metadata (a synthetic table in ``evaluate``).

        Raises
        ------
        MetadataError
            The column, how many values do not fit and one of them.
        """
        for name, col in self.columns.items():
            if name in df.columns:
                _check_values(name, col, df[name])

    def check_declared(self, df: pd.DataFrame) -> None:
        """Refuse data outside what the user declared: a value below a declared ``min`` or above a
        declared ``max`` (numerical and datetime columns), or a value not among declared ``categories``.
        A declaration the data breaks is wrong about the data, and a model fitted on such data would
        sample outside it. (A differentially private model does not call this: it clips to its public
        domain instead, since an error naming a value would reveal it.)

        Raises
        ------
        MetadataError
            Naming the column, how many values break the declaration, one of them and the fix.
        """
        for name, col in self.columns.items():
            declared = set(col.declared or ())
            if name not in df.columns or not declared & {"min", "max", "categories"}:
                continue
            values = df[name].dropna()
            if values.empty:
                continue
            if col.sdtype in ("numerical", "datetime") and declared & {"min", "max"}:
                if col.sdtype == "datetime":
                    x = datetime_seconds(values, col.format)
                else:
                    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
                lo = _bound(col, col.min) if "min" in declared and col.min is not None else -np.inf
                hi = _bound(col, col.max) if "max" in declared and col.max is not None else np.inf
                outside = (x < lo) | (x > hi)
                if outside.any():
                    raise MetadataError(
                        f"column {name!r}: {int(outside.sum()):,} of its {len(values):,} values lie outside the "
                        f"declared range [{col.min}, {col.max}] (e.g. {_plain(values[outside].iloc[0])!r}); widen the "
                        "declared min/max or remove those rows"
                    )
            if col.categories is not None and "categories" in declared:
                allowed = {str(c) for c in col.categories}
                unknown = values[~values.map(str).isin(allowed)]
                if len(unknown):
                    raise MetadataError(
                        f"column {name!r}: {len(unknown):,} of its {len(values):,} values are not among the "
                        f"declared categories (e.g. {_plain(unknown.iloc[0])!r}); add them to the declaration or "
                        "remove those rows"
                    )

    def enforce_declared(self, df: pd.DataFrame, keep: set[str] = frozenset()) -> pd.DataFrame:
        """``df`` (sampled rows) with each numerical column clipped to its declared ``min``/``max``, as
        SDV's ``enforce_min_max_values`` does: what the user declared always holds in the output. Models
        fitted on data inside the declaration (:meth:`check_declared`) rarely need it; datetimes and
        categories are generated from the fitted (declared) domain. Columns in ``keep`` (conditioned
        on: every row holds the asked value) are left as they are."""
        for name, col in self.columns.items():
            declared = set(col.declared or ())
            if (
                col.sdtype != "numerical"
                or not declared & {"min", "max"}
                or name not in df.columns
                or name in keep
            ):
                continue
            s = df[name]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            lo = _bound(col, col.min) if "min" in declared and col.min is not None else None
            hi = _bound(col, col.max) if "max" in declared and col.max is not None else None
            below = s < lo if lo is not None else pd.Series(False, index=s.index)
            above = s > hi if hi is not None else pd.Series(False, index=s.index)
            if below.any() or above.any():
                s = s.copy()
                if lo is not None:
                    s[below] = np.ceil(lo) if pd.api.types.is_integer_dtype(s) else lo
                if hi is not None:
                    s[above] = np.floor(hi) if pd.api.types.is_integer_dtype(s) else hi
                df[name] = s
        return df

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping ``{"columns": {name: fields}}``. Bounds the user did not declare are
        written as ``observed: {min, max}``, informational: the data's own extremes are real people's
        values, and a file that ``inspect -o`` writes and ``--metadata`` reads back must never turn
        them into declared (public, free) bounds for a differentially private model. Only ``min`` and
        ``max`` keys are declarations."""
        out = {}
        for n, c in self.columns.items():
            fields = _clean_none(asdict(c))
            if not {"min", "max"} <= set(c.declared or ()) and ("min" in fields or "max" in fields):
                fields["observed"] = {k: fields.pop(k) for k in ("min", "max") if k in fields}
            out[n] = fields
        return {"columns": out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metadata:
        """The inverse of :meth:`to_dict` (``observed`` bounds come back as undeclared ``min``/``max``).

        Raises
        ------
        MetadataError
            Not a mapping with a ``columns`` mapping, or a malformed column.
        """
        cols = data.get("columns")
        if not isinstance(cols, dict):
            raise MetadataError("metadata must be a mapping with a 'columns' mapping")
        try:
            return cls({str(n): ColumnMetadata(**_observed_bounds(c)) for n, c in cols.items()})
        except TypeError as exc:
            raise MetadataError(f"malformed column metadata: {exc}") from exc

    def to_json(self, path: str | Path | None = None) -> str:
        """Return the metadata as JSON text; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Metadata:
        """Read metadata from a JSON (or YAML) file, or from JSON text."""
        text = str(source)
        if text.lstrip().startswith("{"):
            return cls.from_dict(json.loads(text))
        return cls.from_dict(_load_mapping(source))

    def explain(self) -> list[dict[str, Any]]:
        """One row per column for display: name, sdtype, details and the reason it was detected."""
        rows = []
        for name, c in self.columns.items():
            details = []
            if c.pii:
                details.append(c.pii + (f", locale {c.locale}" if c.locale else ""))
            if c.representation:
                details.append(c.representation)
            if c.format:
                details.append(f"format {c.format}")
            if c.min is not None:
                details.append(f"range [{c.min}, {c.max}]")
            if c.categories is not None:
                details.append(f"{len(c.categories)} declared categories")
            if c.declared:
                details.append(f"declared: {', '.join(c.declared)}")
            if c.nullable:
                details.append("nullable")
            rows.append(
                {"column": name, "sdtype": c.sdtype, "details": ", ".join(details), "reason": c.reason}
            )
        return rows


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds, for messages (``27``, not ``np.int64(27)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _bound(col: ColumnMetadata, value: Any) -> float:
    """A declared bound as a number (datetimes as seconds), for ``min ≤ max``."""
    if col.sdtype == "datetime":
        seconds = datetime_seconds(pd.Series([value]), col.format)[0]
        if not np.isfinite(seconds):
            raise MetadataError(f"declared bound {value!r} is not a date in format {col.format or 'ISO'}")
        return float(seconds)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MetadataError(f"declared bound {value!r} is not a number") from None


def _observed_bounds(fields: Any) -> Any:
    """A column's fields with ``observed: {min, max}`` (see :meth:`Metadata.to_dict`) as plain
    undeclared ``min``/``max``."""
    if not isinstance(fields, dict) or "observed" not in fields:
        return fields
    fields = dict(fields)
    observed = fields.pop("observed")
    if not isinstance(observed, dict) or set(observed) - {"min", "max"}:
        raise MetadataError("observed must be a mapping of min and max, e.g. {min: 17, max: 90}")
    for k, v in observed.items():
        fields.setdefault(k, v)
    return fields


def _clean_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, pd.Timestamp):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {o!r}")


def _load_mapping(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    if not path.exists():
        raise MetadataError(f"{path}: metadata file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            from simulacra.validation import load_yaml

            data = load_yaml(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise MetadataError(f"{path}: not valid JSON/YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise MetadataError(f"{path}: expected a mapping at the top level")
    return data


def _num(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _check_values(name: str, col: ColumnMetadata, s: pd.Series) -> None:
    """Refuse values a model of ``col.sdtype`` would lose (see :meth:`Metadata.validate`)."""
    values = s.dropna()
    if values.empty or col.sdtype in ("categorical", "id", "text", "pii"):
        return
    if col.sdtype == "numerical":
        if pd.api.types.is_bool_dtype(values):
            return
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna()]
        if len(bad):
            raise MetadataError(
                f"column {name!r} is numerical but {len(bad):,} of its {len(values):,} values are not numbers "
                f"(e.g. {bad.iloc[0]!r}); set its sdtype to categorical or clean the column"
            )
        inf = np.isinf(numbers.to_numpy(dtype=float))
        if inf.any():
            raise MetadataError(
                f"column {name!r} holds {int(inf.sum()):,} infinite values (±inf), which no model can learn; "
                "replace them with numbers or leave them empty (missing) in the data"
            )
    elif col.sdtype == "datetime":
        bad = values[parse_datetimes(values, col.format).isna().to_numpy()]
        if len(bad):
            raise MetadataError(
                f"column {name!r} is datetime but {len(bad):,} of its {len(values):,} values are not dates "
                f"in format {col.format or 'ISO'} (e.g. {bad.iloc[0]!r}); fix the format or the column's sdtype"
            )
    elif col.sdtype == "boolean" and not pd.api.types.is_bool_dtype(values):
        text = set(values.map(lambda v: str(v).strip().lower()))
        if not any(text <= spelling | {"0", "1", "1.0", "0.0"} for spelling in _BOOL_SPELLINGS):
            example = sorted(text)[0]
            raise MetadataError(
                f"column {name!r} is boolean but holds {len(text)} distinct values (e.g. {example!r}); "
                "set its sdtype to categorical"
            )


def parse_datetimes(values: pd.Series, fmt: str | None) -> pd.Series:
    """Parse a column as datetimes with the detected ``format`` (``None``: native, ``"mixed"``: per value).

    Unparseable values become ``NaT``. Time zones are dropped (converted to UTC) so all values compare.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt in (None, "mixed"):
                out = pd.to_datetime(values, errors="coerce", format="mixed")
            else:
                out = pd.to_datetime(values, errors="coerce", format=fmt)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def datetime_seconds(values: pd.Series, fmt: str | None) -> np.ndarray:
    """A datetime column (native, or text in ``fmt``) as float64 seconds since 1970-01-01; missing → NaN.

    Works whatever the column's resolution (pandas 3 defaults to microseconds).
    """
    dt = parse_datetimes(values, fmt)
    out = dt.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float) / 1e9
    out[dt.isna().to_numpy()] = np.nan
    return out


def _detect_text_datetime(values: pd.Series) -> str | None:
    sample = values.astype(str)
    if not sample.map(lambda v: bool(_DATE_LIKE.match(v))).all():
        return None
    for fmt in _DATE_FORMATS:
        parsed = pd.to_datetime(sample, errors="coerce", format=fmt)
        if parsed.notna().all():
            return fmt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return "mixed" if parsed.notna().all() else None


def _detect_column(name: str, s: pd.Series) -> ColumnMetadata:
    values = s.dropna()
    nullable = bool(s.isna().any())
    if values.empty:
        return ColumnMetadata("categorical", nullable=True, reason="every value is missing")
    if pd.api.types.is_bool_dtype(s):
        return ColumnMetadata("boolean", nullable=nullable, reason="boolean dtype")
    if pd.api.types.is_datetime64_any_dtype(s):
        dt = parse_datetimes(values, None)
        return ColumnMetadata(
            "datetime",
            nullable=nullable,
            min=dt.min().isoformat(),
            max=dt.max().isoformat(),
            reason="datetime dtype",
        )
    found = detect_pii(name, values)
    if found is not None:
        return ColumnMetadata("pii", pii=found[0], nullable=nullable, reason=found[1])
    if pd.api.types.is_numeric_dtype(s):
        return _numeric_meta(name, pd.to_numeric(values), nullable, "numeric dtype")
    # text / mixed objects
    as_text = values.map(str)
    lowered = set(as_text.str.strip().str.lower().unique())
    if any(lowered <= spelling for spelling in _BOOL_SPELLINGS) and len(lowered) == 2:
        return ColumnMetadata("boolean", nullable=nullable, reason=f"values spell booleans {sorted(lowered)}")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return _numeric_meta(name, numbers, nullable, "every text value parses as a number")
    sample = values.sample(min(len(values), 5000), random_state=0) if len(values) > 5000 else values
    fmt = _detect_text_datetime(sample)
    if fmt is not None:
        dt = parse_datetimes(values, fmt)
        if dt.isna().any() and fmt != "mixed":  # the sample missed a second format
            fmt, dt = "mixed", parse_datetimes(values, "mixed")
        if dt.notna().all():
            return ColumnMetadata(
                "datetime",
                format=fmt,
                nullable=nullable,
                min=dt.min().isoformat(),
                max=dt.max().isoformat(),
                reason=f"every value parses as a date (format {fmt})",
            )
    n_unique = values.nunique()
    if values.map(lambda v: isinstance(v, str)).all() and n_unique >= 0.5 * len(values):
        median_words = float(values.str.split().str.len().median())
        if median_words >= TEXT_MIN_WORDS:
            return ColumnMetadata(
                "text",
                nullable=nullable,
                reason=f"free text: a median of {median_words:g} words, {n_unique / len(values):.0%} distinct",
            )
    if n_unique == len(values) and len(values) >= 20 and values.map(lambda v: isinstance(v, str)).all():
        return ColumnMetadata("id", nullable=nullable, reason="every text value is distinct")
    share = float(numbers.notna().mean())
    why = f"{n_unique} distinct labels"
    if 0 < share < 1:
        example = values[numbers.isna()].iloc[0]
        why += f"; mixed types ({share:.0%} numeric, e.g. non-numeric {example!r})"
    return ColumnMetadata("categorical", nullable=nullable, reason=why)


def _numeric_meta(name: str, numbers: pd.Series, nullable: bool, reason: str) -> ColumnMetadata:
    arr = numbers.to_numpy(dtype=float)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return ColumnMetadata("categorical", nullable=True, reason="no finite numbers")
    is_int = bool(np.all(np.mod(finite, 1) == 0))
    if _ID_NAME.search(name) and is_int and len(np.unique(finite)) == len(arr):
        return ColumnMetadata(
            "id", nullable=nullable, reason="name looks like a key and every value is distinct"
        )
    return ColumnMetadata(
        "numerical",
        representation="int" if is_int else "float",
        nullable=nullable,
        min=_num(finite.min()),
        max=_num(finite.max()),
        reason=reason,
    )


# ------------------------------------------------------------------------------ personal identifiers
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_URL = re.compile(r"^(https?|ftp)://[^\s/$.?#][^\s]*$|^www\.[^\s]+\.[^\s]+$", re.IGNORECASE)
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+((x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)
_PHONE_LOOK = re.compile(r"^(\+\d|\(\d{2,5}\)|\d{2,5}[\s.\-/]\d)")
_POSTCODE = re.compile(r"^(?=.*\d)[A-Za-z0-9]{2,5}([\s\-][A-Za-z0-9]{2,5})?$")
_PERSON = re.compile(r"^[^\W\d_]+([\s'\-.][^\W\d_]+\.?){0,3}\.?$")
_PHONE_NAME = re.compile(r"(^|_)(phone|telephone|tel|mobile|cell|cellphone|fax|msisdn)(_|$|number|no)")
_POSTCODE_NAME = re.compile(
    r"(^|_)(zip|zipcode|zip_code|postcode|post_code|postal|postalcode|postal_code|plz)(_|$)"
)
_FIRST_NAMES = {"first_name", "firstname", "given_name", "givenname", "forename", "first"}
_LAST_NAMES = {"last_name", "lastname", "surname", "family_name", "familyname", "last"}
_FULL_NAMES = {"name", "full_name", "fullname", "person", "person_name", "contact", "middle_name"}
_NAME_OWNERS = (
    "customer|patient|employee|contact|client|person|user|owner|holder|member|student|account|"
    "card_holder|cardholder|beneficiary|driver|passenger|applicant|author|manager|doctor|nurse"
)
_OWNED_NAME = re.compile(rf"^({_NAME_OWNERS})_?(full_?)?name$")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a card number's digits (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """The ISO 13616 check of an IBAN (spaces ignored): the rearranged number mod 97 equals 1."""
    s = text.replace(" ", "").upper()
    if not _IBAN.match(s):
        return False
    digits = "".join(str(int(ch, 36)) for ch in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text.split("x")[0].split("ext")[0])


def _column_key(name: str) -> str:
    """A column name as ``lower_snake``: ``FirstName`` → ``first_name``, ``Post Code`` → ``post_code``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def detect_pii(name: str, values: pd.Series) -> tuple[str, str] | None:
    """``(kind, reason)`` when the non-missing ``values`` of column ``name`` are personal identifiers
    (rule 3 of the module docstring), else ``None``. Up to 2,000 distinct values are examined."""
    if values.empty or pd.api.types.is_bool_dtype(values):
        return None
    distinct = pd.Series(values.unique())
    if len(distinct) > 2000:
        distinct = distinct.sample(2000, random_state=0)
    if pd.api.types.is_float_dtype(distinct) and not np.all(np.mod(distinct.to_numpy(dtype=float), 1) == 0):
        return None  # numbers with decimals identify no one
    text = distinct.map(lambda v: str(int(v)) if isinstance(v, float | np.floating) else str(v)).str.strip()
    key = _column_key(name)

    def share(test) -> float:
        return float(text.map(test).mean())

    numeric = pd.api.types.is_numeric_dtype(distinct)
    if not numeric:
        for kind, test, what in (
            ("email", lambda v: bool(_EMAIL.match(v)), "e-mail addresses"),
            ("url", lambda v: bool(_URL.match(v)), "URLs"),
            ("ip", _is_ip, "IP addresses"),
            ("iban", iban_valid, "IBANs with a valid mod-97 checksum"),
        ):
            got = share(test)
            if got >= PII_SHARE:
                return kind, f"{got:.0%} of its values are {what}"
    card = share(
        lambda v: (
            bool(re.fullmatch(r"[\d\s\-]+", v)) and 12 <= len(_digits(v)) <= 19 and luhn_valid(_digits(v))
        )
    )
    if card >= PII_SHARE and len(distinct) >= 2:
        return "credit_card", f"{card:.0%} of its values are 12–19-digit numbers with a valid Luhn checksum"
    phone_like = lambda v: bool(_PHONE_CHARS.match(v)) and 7 <= len(_digits(v)) <= 15  # noqa: E731
    if _PHONE_NAME.search(key):
        got = share(phone_like)
        if got >= PII_SHARE:
            return "phone", f"name hint {name!r} and {got:.0%} of its values have 7–15 digits"
    if not numeric:
        got = share(lambda v: phone_like(v) and bool(_PHONE_LOOK.match(v)) and not _DATE_LIKE.match(v))
        if got >= PII_SHARE and len(distinct) >= 2:
            return "phone", f"{got:.0%} of its values are written like phone numbers (+, (…) or separators)"
    if _POSTCODE_NAME.search(key):
        got = share(lambda v: bool(_POSTCODE.match(v)))
        if got >= PII_SHARE:
            return "postcode", f"name hint {name!r} and {got:.0%} of its values look like postcodes"
    if not numeric:
        kind = (
            "first_name"
            if key in _FIRST_NAMES
            else "last_name"
            if key in _LAST_NAMES
            else "name"
            if key in _FULL_NAMES or _OWNED_NAME.match(key)
            else None
        )
        if kind is not None:
            got = share(lambda v: bool(_PERSON.match(v)))
            if got >= PII_SHARE and distinct.size >= min(len(values), 20) * 0.5:
                return kind, f"name hint {name!r} and {got:.0%} of its values are words of letters"
    return None
