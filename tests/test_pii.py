"""Personal identifiers on a table of Faker identities: detected, never learned, never copied out,
formats kept; and keyed pseudonyms that survive joins."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from simulacra.errors import ConditionError, ConfigError
from simulacra.metadata import Metadata, iban_valid, luhn_valid
from simulacra.synthesizers import Synthesizer, make
from simulacra.transform.pii import IdentifierGenerator, normal_form, shape_of

KINDS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "card": "credit_card",
    "iban": "iban",
    "ip": "ip",
    "website": "url",
    "zip": "postcode",
    "first_name": "first_name",
}


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(11)
    rng = np.random.default_rng(11)
    n = 3000
    return pd.DataFrame(
        {
            "name": [fake.name() for _ in range(n)],
            "email": [fake.email() for _ in range(n)],
            "phone": [fake.phone_number() for _ in range(n)],
            "card": [fake.credit_card_number() for _ in range(n)],
            "iban": [fake.iban() for _ in range(n)],
            "ip": [fake.ipv4() for _ in range(n)],
            "website": [fake.url() for _ in range(n)],
            "zip": [fake.postcode() for _ in range(n)],
            "first_name": [fake.first_name() for _ in range(n)],
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )


@pytest.fixture(scope="module")
def fitted(people, tmp_path_factory):
    meta = Metadata.detect(people)
    model = make("mixture", components=20, iterations=10, verbose=False).fit(people, meta)
    folder = tmp_path_factory.mktemp("pii") / "model"
    model.save(folder)
    return meta, model, folder


def test_every_identifier_kind_is_detected_and_nothing_else(people, adult):
    meta = Metadata.detect(people)
    assert {c: meta[c].pii for c in KINDS} == KINDS
    assert meta["age"].sdtype == "numerical" and meta["plan"].sdtype == "categorical"
    train, _ = adult
    assert not Metadata.detect(train).names_of("pii")  # no false alarm on a real table


@pytest.mark.slow
def test_no_real_identifier_in_100000_rows_and_formats_kept(people, fitted):
    _meta, model, _ = fitted
    synth = model.sample(100_000, seed=0)
    for column, kind in KINDS.items():
        real = {normal_form(kind, v) for v in people[column]}
        clash = [v for v in synth[column].dropna() if normal_form(kind, v) in real]
        if kind == "first_name":  # a first name alone identifies no one; its pool may be exhausted
            continue
        assert not clash, (column, clash[:5])
    assert synth["email"].str.fullmatch(r"[a-z0-9._]+@example\.(com|net|org)").all()
    assert synth["card"].map(lambda v: luhn_valid(re.sub(r"\D", "", v))).all()
    assert synth["iban"].map(iban_valid).all()
    assert synth["zip"].str.fullmatch(r"\d{5}").all()
    common = set(people["phone"].map(shape_of).value_counts().loc[lambda c: c >= 5].index)
    assert set(synth["phone"].map(shape_of)) <= common  # only formats that at least 5 real rows have
    assert synth["ip"].str.fullmatch(r"\d{1,3}(\.\d{1,3}){3}").all()
    assert synth["email"].nunique() > 0.9 * min(len(synth), len(model.identifiers_["email"].pool_))


def test_identifiers_never_reach_the_model_or_its_folder(people, fitted):
    _meta, model, folder = fitted
    assert not {s.column for s in model.transformer_.spans_} & set(KINDS)

    def strings(value) -> set[str]:
        if isinstance(value, str):
            return {value}
        if isinstance(value, dict):
            return set().union(*(strings(k) | strings(v) for k, v in value.items()))
        if isinstance(value, list):
            return set().union(*(strings(v) for v in value))
        return set()

    files = {path.name: json.loads(path.read_text()) for path in folder.glob("*.json")}
    pools = files.pop("identifiers.json")  # column → its generator's state (its pool of fresh values)
    elsewhere = strings(files)
    everywhere = elsewhere | strings(pools)
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype.kind in "biuf" for k in npz.files)  # numbers only
    for column, kind in KINDS.items():
        if kind == "first_name":
            continue
        assert not set(people[column].astype(str)) & everywhere, column  # no real value, verbatim, anywhere
        # nor in the column's normal form, among its own pool and every string outside the pools (another
        # column's pool can coincide in a lossy form by chance: the IP 1.2.3.45 and the ZIP code 12345)
        real = {normal_form(kind, v) for v in people[column]}
        assert not real & {normal_form(kind, v) for v in elsewhere | strings(pools[column])}, column


def test_sampling_is_seeded_and_survives_a_reload(fitted):
    _, model, folder = fitted
    again = Synthesizer.load(folder)
    a, b = model.sample(500, seed=3), again.sample(500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not model.sample(500, seed=4)["email"].equals(a["email"])
    with pytest.raises(ConditionError, match="personal identifiers"):
        model.sample(5, conditions={"email": "x@example.org"})


def test_pseudonyms_are_keyed_joinable_and_never_real(people):
    meta = Metadata.detect(people[["email", "age"]])
    key = b"0123456789abcdef-secret"
    one = IdentifierGenerator("email", "pseudonymize").fit(people["email"], key=key)
    two = IdentifierGenerator("email", "pseudonymize").fit(people["email"].iloc[::-1], key=key)
    other = IdentifierGenerator("email", "pseudonymize").fit(people["email"], key=b"another-key-of-16+bytes")
    assert set(one.pool_) == set(two.pool_)  # the same person, the same pseudonym: joins survive
    assert not set(one.pool_) & set(other.pool_)
    assert not set(one.pool_) & set(people["email"])
    model = make("mixture", components=5, iterations=5, verbose=False).fit(
        people[["email", "age"]], meta, pii="pseudonymize", pii_key=key
    )
    out = model.sample(1000, seed=0)
    assert out["email"].str.endswith("@pseudonym.invalid").all() and set(out["email"]) <= set(one.pool_)
    with pytest.raises(ConfigError, match="16 bytes"):
        IdentifierGenerator("email", "pseudonymize").fit(people["email"], key=b"short")


def test_a_rare_format_stores_no_real_value_and_the_pool_is_secret(people):
    """Six rows of one phone number in a format of its own made every position 'constant' and stored
    the complete number in identifiers.json; the pool's stream was seeded by a hash of the real values."""
    from simulacra.transform.pii import LITERAL_PREFIX

    phones = people["phone"].copy()
    phones.iloc[:6] = "+44 20 7946 0815"
    gen = IdentifierGenerator("phone").fit(phones)
    state = gen.to_state()["shapes"]
    rare = shape_of("+44 20 7946 0815")
    assert rare in state["shapes"] and state["literal"][rare] == {}
    assert all(len(fixed) <= LITERAL_PREFIX for fixed in state["literal"].values())
    assert "442079460815" not in {normal_form("phone", v) for v in gen.pool_}
    assert "7946 0815" not in json.dumps(gen.to_state())
    again = IdentifierGenerator("phone").fit(phones)
    assert set(gen.pool_) != set(again.pool_)  # OS entropy, not the data: two fits differ


def test_the_data_profile_shows_no_identifier_and_no_rare_category(people):
    from simulacra.prepare.profile import MIN_SHOWN_COUNT, profile

    df = people.copy()
    df.loc[:2, "plan"] = "vip-of-one-person"
    prof = profile(df, Metadata.detect(df))
    text = json.dumps(prof)
    for column in KINDS:
        entry = next(c for c in prof["columns"] if c["column"] == column)
        assert "top" not in entry and "min" not in entry and entry["distinct"] > 1
        assert not any(str(v) in text for v in df[column].head(50) if len(str(v)) > 6), column
    plan = next(c for c in prof["columns"] if c["column"] == "plan")
    assert "vip-of-one-person" not in text and all(k >= MIN_SHOWN_COUNT for _, k in plan["top"])


def test_a_pii_override_must_fit_the_values(people):
    """An e-mail override on a column of numbers sampled a missing value for every row."""
    from simulacra.errors import MetadataError

    df = people[["age", "plan"]].copy()
    meta = Metadata.detect(df)
    meta.update_column("age", sdtype="pii", pii="email")
    with pytest.raises(MetadataError, match="holds numbers"):
        make("independent").fit(df, meta)
    meta.update_column("age", sdtype="pii", pii="phone")  # digits: a number-coded identifier
    assert make("independent").fit(df, meta).sample(20, seed=0)["age"].notna().all()
