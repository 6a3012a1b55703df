"""Personal identifiers: generated fresh with Faker, or pseudonymised with a keyed hash — never learned.

A column of sdtype ``pii`` (:func:`simulacra.metadata.detect_pii`) never reaches a model: the
synthesizer sees it blanked, and :class:`IdentifierGenerator` fills it after sampling, independently of
every other column (so no synthetic row carries a real person's identifier *with* their attributes).

**Fresh identifiers** (``mode="fake"``, the default). Values come from Faker (https://faker.readthedocs.io)
in the column's locale — the one whose names, phone numbers, postcodes or IBAN country best match the
real values (:func:`detect_locale`), or the ``locale`` set in the metadata — and are written in the real
values' formats: the *shapes* held by at least :data:`MIN_SHAPE_ROWS` rows (``(999) 999-9999``,
``AA99 9AA``), so card numbers keep their Luhn digit and IBANs their checksum. A character constant in
a shape (a country code) is kept only within the first :data:`LITERAL_PREFIX` characters and only in a
shape of at least :data:`MIN_LITERAL_DISTINCT` distinct values: six rows of one phone number must not
become a stored, complete real value.

No generated value equals a real one: at fit time the generator draws a **pool** of candidates and
drops every value that occurs in the real column (compared in normal form: digits only for phone and
card numbers, upper-case letters and digits for IBANs and postcodes, canonical addresses for IPs, lower
case otherwise); samples are drawn from the pool (without replacement while it lasts, when the real
column is unique). What the model then holds is a list of values that are *not* in the data. To keep
that list from mapping the data's complement, the pool holds at most :data:`POOL_SHARE` of the
generator's namespace, estimated by the birthday count of a probe of :data:`PROBE` candidates
(``S ≈ n² / 2·duplicates``): holding the model tells an attacker, for a guessed value, that it is not in
the data with probability at most ≈ 5 %, and never that it is. The candidates' random stream is seeded
from OS entropy (:mod:`simulacra.transform.secret`), not from the model's seed or the data, so no one
can replay it to see which candidates were dropped: two fits of one table give different pools (the
samples drawn from one fitted model are still seeded).

Where the namespace is too small for this — 5 % of a locale's ~700 first names is fewer than
:data:`MIN_POOL` — the generator falls back to all of the locale's values (the distinct values of
:data:`FALLBACK_DRAWS` draws), real ones included, and ``collisions_possible`` says so: a first or
last name alone identifies no one, and the evaluation counts such values (``real_identifiers``).

**Pseudonyms** (``mode="pseudonymize"``, with a key of at least 16 bytes): each real value becomes
``HMAC-SHA256(key, kind, normal form)`` written as a token (``name-3f9a…``, ``3f9a…@pseudonym.invalid``,
``https://pseudonym.invalid/3f9a…``), so the same person gets the same pseudonym in every table
pseudonymised with the same key and joins survive; samples draw pseudonyms with their real
frequencies. The key is never stored; whoever holds it can test a guessed value, as with any keyed
pseudonymisation (GDPR, Art. 4(5)).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import ConfigError
from simulacra.transform.secret import secret_seed

#: locales :func:`detect_locale` chooses from (the first wins a tie)
LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "en_CA",
    "en_AU",
    "en_IN",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "ja_JP",
    "zh_CN",
)
#: the largest share of the generator's estimated namespace a pool may hold
POOL_SHARE = 0.05
#: most fresh values kept per column
POOL_MAX = 100_000
#: fewer fresh values than this: fall back to the locale's values, collisions possible
MIN_POOL = 50
#: candidates drawn for the pool of a generator without room for exclusion (its distinct values)
FALLBACK_DRAWS = 10_000
#: candidates drawn to estimate a generator's namespace
PROBE = 4_000
#: rows a format must have to be reproduced (rarer formats could single someone out)
MIN_SHAPE_ROWS = 5
#: constant characters of a format are kept only in its first this many letters and digits (a country
#: code, an IBAN's country, a card's issuer digit) ...
LITERAL_PREFIX = 4
#: ... and only when the format holds at least this many distinct values
MIN_LITERAL_DISTINCT = 20
MODES = ("fake", "pseudonymize")
#: identifier kinds a column of numbers can hold (their normal form is digits)
NUMBER_KINDS = ("phone", "credit_card", "postcode")
_SHAPED = ("phone", "credit_card", "iban", "postcode")


# --------------------------------------------------------------------------------------- normal forms
def _text(value: Any) -> str:
    """A value as text; a float holding a whole number without its ``.0`` (identifiers read as floats
    because their column had missing values)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def normal_form(kind: str, value: Any) -> str:
    """The form two values of ``kind`` are compared in: digits for phone and card numbers, upper-case
    letters and digits for IBANs and postcodes, the canonical address for IPs, lower case with single
    spaces otherwise."""
    text = _text(value)
    if kind in ("phone", "credit_card"):
        return re.sub(r"\D", "", re.split(r"(?i)x|ext", text)[0])
    if kind in ("iban", "postcode"):
        return re.sub(r"[^0-9A-Z]", "", text.upper())
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(text.strip()))
        except ValueError:
            return text.strip().lower()
    return " ".join(text.lower().split())


def shape_of(text: str) -> str:
    """A value's format: digits → ``9``, upper-case letters → ``A``, lower-case → ``a``, the rest kept."""
    return "".join("9" if c.isdigit() else "A" if c.isupper() else "a" if c.islower() else c for c in text)


def _luhn_digit(body: str) -> str:
    """The Luhn check digit that completes ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _iban_check(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


# ------------------------------------------------------------------------------------------ locales
def _faker(locale: str, seed: int):
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(int(seed))
    return fake


def _name_parts(locale: str) -> tuple[list[str], list[str]]:
    """The first and last names of a Faker locale's person provider (sorted, distinct)."""
    fake = _faker(locale, 0)
    first: set[str] = set()
    last: set[str] = set()
    for provider in fake.providers:
        if "person" not in type(provider).__module__:
            continue
        for attr in dir(provider):
            value = getattr(provider, attr, None) if attr.endswith("_names") or "_names_" in attr else None
            if isinstance(value, dict | tuple | list) and not attr.startswith("_"):
                (first if "first" in attr else last if "last" in attr else set()).update(map(str, value))
    return sorted(first), sorted(last)


def _name_lists(locale: str) -> set[str]:
    first, last = _name_parts(locale)
    return {n.lower() for n in first + last}


def detect_locale(kind: str, values: list[str]) -> str:
    """The Faker locale whose values best match ``values`` (a sample of the real column): the share of
    name tokens found in its name lists (names), of formats it also produces (phones, postcodes), or
    the IBANs' most common country; ``en_US`` where the kind has no locale (e-mail addresses, URLs,
    IPs, card numbers) or nothing matches."""
    if not values:
        return "en_US"
    if kind == "iban":
        country = Counter(v.strip().upper()[:2] for v in values).most_common(1)[0][0]
        for loc in LOCALES:
            if _faker(loc, 0).iban()[:2] == country:
                return loc
        return "en_US"
    if kind in ("name", "first_name", "last_name"):
        tokens = [t.lower() for v in values for t in re.split(r"[\s\-]+", v) if len(t) > 1]
        score = {
            loc: np.mean([t in names for t in tokens]) for loc in LOCALES for names in [_name_lists(loc)]
        }
    elif kind in ("phone", "postcode"):
        real = [shape_of(v.strip()) for v in values]
        score = {}
        for loc in LOCALES:
            fake = _faker(loc, 0)
            make = fake.phone_number if kind == "phone" else fake.postcode
            made = {shape_of(make()) for _ in range(300)}
            score[loc] = np.mean([s in made for s in real])
    else:
        return "en_US"
    best = max(LOCALES, key=lambda loc: score[loc])  # max keeps the first of equal scores
    return best if score[best] > 0 else "en_US"


# ---------------------------------------------------------------------------------------- generation
def _ascii(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower()) or "user"


def _maker(kind: str, fake, locale: str, rng: np.random.Generator) -> Callable[[], str]:
    """A Faker call producing one value of ``kind``.

    Names are drawn uniformly from the locale's lists of first and last names (a full name: one of
    each), not with Faker's frequency weights: the pool is sampled uniformly anyway, and uniform draws
    make the namespace, and so the pool it allows, largest. E-mail addresses join such names in one of
    five common patterns, with a two-digit number half the time, at Faker's reserved domains
    (``example.com``, ``.net``, ``.org``; RFC 2606), so no generated address can reach a real mailbox;
    URLs are websites named after last names, as Faker's are, over more names."""
    first, last = (
        _name_parts(locale) if kind in ("name", "first_name", "last_name", "email", "url") else ([], [])
    )
    first, last = first or [fake.first_name()], last or [fake.last_name()]
    pick = lambda names: names[int(rng.integers(len(names)))]  # noqa: E731
    if kind == "first_name":
        return lambda: pick(first)
    if kind == "last_name":
        return lambda: pick(last)
    if kind == "name":
        return lambda: f"{pick(first)} {pick(last)}"
    if kind == "email":
        patterns = ("{f}.{s}", "{f}{s}", "{i}{s}", "{f}_{s}", "{s}.{f}")

        def email() -> str:
            given, family = _ascii(pick(first)), _ascii(pick(last))
            local = patterns[int(rng.integers(len(patterns)))].format(f=given, s=family, i=given[0])
            if rng.random() < 0.5:
                local += f"{int(rng.integers(100)):02d}"
            return f"{local}@{fake.safe_domain_name()}"

        return email
    if kind == "url":

        def url() -> str:
            host = _ascii(pick(last)) + (f"-{_ascii(pick(last))}" if rng.random() < 0.5 else "")
            www = "www." if rng.random() < 0.5 else ""
            return f"{'https' if rng.random() < 0.7 else 'http'}://{www}{host}.{fake.tld()}/"

        return url
    return {
        "phone": fake.phone_number,
        "credit_card": fake.credit_card_number,
        "iban": fake.iban,
        "ip": fake.ipv4_public,
        "postcode": fake.postcode,
    }[kind]


class _Shapes:
    """The formats of a shaped kind's real values (those held by at least :data:`MIN_SHAPE_ROWS` rows)
    with their weights, and the characters that are constant at each position of a format."""

    def __init__(self, kind: str, values: list[str]) -> None:
        self.kind = kind
        groups: dict[str, list[str]] = {}
        for v in values:
            groups.setdefault(shape_of(v), []).append(v)
        kept = {s: vs for s, vs in groups.items() if len(vs) >= MIN_SHAPE_ROWS}
        self.shapes = list(kept)
        total = sum(len(vs) for vs in kept.values())
        self.weights = [len(vs) / total for vs in kept.values()] if total else []
        self.literal: dict[str, dict[int, str]] = {}
        for s, vs in kept.items():
            fixed: dict[int, str] = {}
            if len(set(vs)) >= MIN_LITERAL_DISTINCT:
                slots = [i for i, ch in enumerate(s) if ch in "9Aa"][:LITERAL_PREFIX]
                for i in slots:  # a constant prefix: stops at the first varying character
                    top, count = Counter(v[i] for v in vs).most_common(1)[0]
                    if count < 0.95 * len(vs):
                        break
                    fixed[i] = top
            self.literal[s] = fixed

    def to_state(self) -> dict[str, Any]:
        return {"shapes": self.shapes, "weights": self.weights, "literal": self.literal}

    @classmethod
    def from_state(cls, kind: str, state: dict[str, Any]) -> _Shapes:
        out = cls.__new__(cls)
        out.kind, out.shapes, out.weights = kind, list(state["shapes"]), list(state["weights"])
        out.literal = {s: {int(i): c for i, c in fixed.items()} for s, fixed in state["literal"].items()}
        return out

    def apply(self, value: str, rng: np.random.Generator) -> str:
        """``value``'s characters written into a real format (one with as many slots when there is
        one), constant characters kept; card numbers get a fresh Luhn digit and IBANs a fresh check
        number when the format changes their characters."""
        if not self.shapes:
            return value
        chars = re.sub(r"[^0-9A-Za-z]", "", value)
        slots = [sum(ch in "9Aa" for ch in s) for s in self.shapes]
        same = [i for i, k in enumerate(slots) if k == len(chars)]
        if same:
            w = np.asarray([self.weights[i] for i in same])
            pick = same[int(rng.choice(len(same), p=w / w.sum()))]
        else:
            pick = int(rng.choice(len(self.shapes), p=np.asarray(self.weights)))
        shape, fixed = self.shapes[pick], self.literal[self.shapes[pick]]
        pool = list(chars[-slots[pick] :]) if len(chars) >= slots[pick] else list(chars)
        out, j = [], 0
        for i, ch in enumerate(shape):
            if ch not in "9Aa":
                out.append(ch)
                continue
            if i in fixed:
                c = fixed[i]
            elif j < len(pool) and (pool[j].isdigit() == (ch == "9")):
                c = pool[j]
            else:
                c = (
                    str(rng.integers(10))
                    if ch == "9"
                    else chr(int(rng.integers(26)) + (65 if ch == "A" else 97))
                )
            out.append(c if ch != "a" else c.lower())
            j += 1
        text = "".join(out)
        if self.kind == "credit_card":
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            body = "".join(text[i] for i in digits[:-1])
            text = text[: digits[-1]] + _luhn_digit(body) + text[digits[-1] + 1 :]
        elif self.kind == "iban":
            compact = re.sub(r"[^0-9A-Z]", "", text.upper())
            check = _iban_check(compact[:2], compact[4:])
            alnum = [i for i, c in enumerate(text) if c.isalnum()]
            text = "".join(check[alnum.index(i) - 2] if i in alnum[2:4] else c for i, c in enumerate(text))
        return text


def _namespace(candidates: list[str]) -> float:
    """Birthday estimate of the number of distinct values a generator draws from: ``n² / 2·d`` with
    ``d`` the duplicate pairs among ``n`` candidates (``inf`` without duplicates)."""
    counts = Counter(candidates)
    pairs = sum(c * (c - 1) / 2 for c in counts.values())
    return len(candidates) ** 2 / (2 * pairs) if pairs else float("inf")


class IdentifierGenerator:
    """Fresh or pseudonymised values for one ``pii`` column (see the module docstring).

    Parameters
    ----------
    kind : str
        One of :data:`simulacra.metadata.PII_KINDS`.
    mode : {"fake", "pseudonymize"}
    locale : str or None
        Faker locale; ``None`` detects it from the values.

    Attributes (after :meth:`fit`)
    ------------------------------
    pool_ : list of str — fresh values not in the data (``fake``), or the pseudonyms (``pseudonymize``).
    weights_ : ndarray or None — pseudonym frequencies.
    missing_ : float — share of missing values to reproduce.
    locale_, shapes_, unique_, collisions_possible_, namespace_, integer_ (the column held integers).
    """

    def __init__(self, kind: str, mode: str = "fake", locale: str | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"pii mode {mode!r}: use 'fake' or 'pseudonymize'")
        self.kind, self.mode, self.locale = kind, mode, locale

    def fit(self, values: pd.Series, *, key: bytes | None = None) -> IdentifierGenerator:
        """Learn the formats, locale and missing share of ``values`` and build the pool (or the
        pseudonyms, with ``key``).

        Raises
        ------
        ConfigError
            ``mode="pseudonymize"`` without a key of at least 16 bytes.
        """
        present = values.dropna()
        self.missing_ = float(1.0 - len(present) / max(len(values), 1))
        self.integer_ = bool(pd.api.types.is_integer_dtype(present) or pd.api.types.is_integer_dtype(values))
        texts = [_text(v) for v in present]
        self.unique_ = bool(len(set(texts)) >= 0.95 * max(len(texts), 1))
        if self.mode == "pseudonymize":
            if not isinstance(key, bytes) or len(key) < 16:
                raise ConfigError(
                    "pseudonymising identifiers needs a secret key of at least 16 bytes; give `pii_key_file` "
                    "FILE (or set SIMULACRA_PII_KEY)"
                )
            counts = Counter(self._pseudonym(key, t) for t in texts)
            self.pool_ = list(counts)
            self.weights_ = np.asarray(list(counts.values()), dtype=float)
            self.locale_, self.shapes_, self.collisions_possible_, self.namespace_ = None, None, False, None
            self.ipv6_ = False
            return self
        rng_seed = secret_seed()  # never the model's seed nor the data: the dropped candidates stay hidden
        rng = np.random.default_rng(rng_seed)
        sample = [texts[i] for i in rng.permutation(len(texts))[:2000]]
        self.locale_ = self.locale or detect_locale(self.kind, sample)
        self.ipv6_ = self.kind == "ip" and sum(":" in t for t in sample) > len(sample) / 2
        self.shapes_ = _Shapes(self.kind, texts) if self.kind in _SHAPED else None
        make = self._candidates(rng_seed, rng)
        probe = [normal_form(self.kind, make()) for _ in range(PROBE)]
        self.namespace_ = _namespace(probe)
        real = {normal_form(self.kind, t) for t in texts}
        wanted = min(POOL_MAX, max(10_000, 4 * len(real)))
        if np.isfinite(self.namespace_):
            wanted = min(wanted, int(POOL_SHARE * self.namespace_))
        pool: dict[str, str] = {}  # normal form → value
        tries, budget = 0, 20 * max(wanted, MIN_POOL) + PROBE
        while len(pool) < wanted and tries < budget:
            value = make()
            tries += 1
            norm = normal_form(self.kind, value)
            if norm and norm not in real and norm not in pool:
                pool[norm] = value
        self.collisions_possible_ = len(pool) < MIN_POOL
        if self.collisions_possible_:  # too small a namespace to exclude from: draw from all of it
            pool = {normal_form(self.kind, v): v for v in (make() for _ in range(FALLBACK_DRAWS))}
        self.pool_ = list(pool.values())
        self.weights_ = None
        return self

    def _candidates(self, seed: int, rng: np.random.Generator) -> Callable[[], str]:
        fake = _faker(self.locale_, seed % 2**32)
        base = fake.ipv6 if getattr(self, "ipv6_", False) else _maker(self.kind, fake, self.locale_, rng)
        if self.shapes_ is None or not self.shapes_.shapes:
            return base
        return lambda: self.shapes_.apply(base(), rng)

    def _pseudonym(self, key: bytes, text: str) -> str:
        digest = hmac.new(key, f"{self.kind}\x00{normal_form(self.kind, text)}".encode(), hashlib.sha256)
        token = digest.hexdigest()[:20]
        if self.kind == "email":
            return f"{token}@pseudonym.invalid"
        if self.kind == "url":
            return f"https://pseudonym.invalid/{token}"
        return f"{self.kind.replace('_', '-')}-{token}"

    def generate(self, n: int, rng: np.random.Generator) -> pd.Series:
        """``n`` values (``None`` for the missing share): pseudonyms by their frequencies, or pool values
        — a permutation of the pool while it lasts when the real column was unique."""
        m = len(self.pool_)
        if self.weights_ is not None:
            idx = rng.choice(m, size=n, p=self.weights_ / self.weights_.sum())
        elif self.unique_ and n <= m:
            idx = rng.permutation(m)[:n]
        else:
            idx = rng.integers(0, m, n)
        out = np.asarray(self.pool_, dtype=object)[idx] if m else np.full(n, None, dtype=object)
        if self.missing_ > 0:
            out[rng.random(n) < self.missing_] = None
        if self.integer_ and self.mode == "fake":
            numbers = pd.to_numeric(
                pd.Series(out, dtype=object).map(lambda v: normal_form(self.kind, v) if v else None),
                errors="coerce",
            )
            return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
        return pd.Series(out, dtype=object)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mode": self.mode,
            "locale": self.locale,
            "locale_": self.locale_,
            "ipv6": self.ipv6_,
            "pool": self.pool_,
            "weights": None if self.weights_ is None else self.weights_.tolist(),
            "missing": self.missing_,
            "integer": self.integer_,
            "unique": self.unique_,
            "collisions_possible": self.collisions_possible_,
            "namespace": None
            if self.namespace_ is None or not np.isfinite(self.namespace_)
            else self.namespace_,
            "shapes": None if self.shapes_ is None else self.shapes_.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IdentifierGenerator:
        out = cls(state["kind"], state["mode"], state.get("locale"))
        out.locale_ = state.get("locale_")
        out.ipv6_ = bool(state.get("ipv6", False))
        out.pool_ = [str(v) for v in state["pool"]]
        out.weights_ = None if state.get("weights") is None else np.asarray(state["weights"], dtype=float)
        out.missing_ = float(state["missing"])
        out.integer_ = bool(state["integer"])
        out.unique_ = bool(state["unique"])
        out.collisions_possible_ = bool(state["collisions_possible"])
        out.namespace_ = float("inf") if state.get("namespace") is None else float(state["namespace"])
        out.shapes_ = None if state.get("shapes") is None else _Shapes.from_state(out.kind, state["shapes"])
        return out


def identifier_matches(kind: str, real: pd.Series, synthetic: pd.Series) -> int:
    """How many synthetic values of an identifier column equal some real value, in normal form."""
    known = {normal_form(kind, v) for v in real.dropna()}
    return int(sum(normal_form(kind, v) in known for v in synthetic.dropna()))
