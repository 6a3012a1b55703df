"""The privacy attacks on real Adult rows: a generator that hands out its training rows must be caught,
real rows the generator never saw must look like no leak, and the numbers must follow their
definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulacra.evaluate import evaluate
from simulacra.evaluate.anonymity import (
    ATTACKS,
    Queries,
    Rate,
    _BitIndex,
    _Coded,
    _random_queries,
    _record_queries,
    _univariate_queries,
    reidentification_risks,
    risk,
)
from simulacra.evaluate.privacy import attack_roc, membership_inference
from simulacra.metadata import Metadata


@pytest.fixture(scope="module")
def split(adult):
    """3,000 training rows, a copy of them (a memorising generator), 3,000 unseen real rows as the
    'synthetic' side and 3,000 more as the holdout/control set."""
    train, test = adult
    rng = np.random.default_rng(0)
    rows = train.iloc[rng.permutation(len(train))[:6000]].reset_index(drop=True)
    members, unseen = rows.iloc[:3000].reset_index(drop=True), rows.iloc[3000:].reset_index(drop=True)
    holdout = test.sample(3000, random_state=0).reset_index(drop=True)
    return members, unseen, holdout, Metadata.detect(train)


def test_wilson_rate_and_residual_risk_follow_their_formulas():
    r = Rate.of(30, 100)
    z = 1.959963984540054
    assert math.isclose(r.value, (30 + z * z / 2) / (100 + z * z))
    assert math.isclose(r.error, z / (100 + z * z) * math.sqrt(30 * 70 / 100 + z * z / 4))
    got = risk(Rate(0.5, 0.0), Rate(0.2, 0.0))
    assert math.isclose(got["risk"], (0.5 - 0.2) / 0.8) and got["ci"] == [got["risk"], got["risk"]]
    assert risk(Rate(0.1, 0.05), Rate(0.3, 0.05))["risk"] == 0.0  # clipped at 0


def test_roc_and_tpr_at_low_fpr():
    rng = np.random.default_rng(0)
    perfect = attack_roc(rng.random(500) + 1, rng.random(500), bootstrap=50)
    assert perfect["auc"] == 1.0 and perfect["tpr_at_fpr"] == 1.0
    coin = attack_roc(rng.random(2000), rng.random(2000), bootstrap=100)
    assert 0.45 < coin["auc"] < 0.55 and coin["tpr_at_fpr"] < 0.05
    assert coin["auc_ci"][0] <= coin["auc"] <= coin["auc_ci"][1]


def test_membership_inference_catches_copies_and_not_unseen_rows(split):
    members, unseen, holdout, meta = split
    copier = membership_inference(members, members, holdout, meta, max_candidates=1000, bootstrap=50)
    honest = membership_inference(members, unseen, holdout, meta, max_candidates=1000, bootstrap=50)
    # every member has its exact copy among the synthetic rows: distance 0
    assert copier["dcr"]["auc"] > 0.9 and copier["dcr"]["tpr_at_fpr"] > 0.5
    assert copier["domias"]["auc"] > 0.6
    for attack in ("dcr", "domias"):
        assert 0.44 < honest[attack]["auc"] < 0.56, (attack, honest[attack])
        assert honest[attack]["auc_ci"][0] < 0.5 + 0.05


def test_reidentification_risks_rise_for_a_copier_only(split):
    members, unseen, holdout, meta = split
    copier = reidentification_risks(members, members, holdout, meta, n_attacks=500, seed=0)
    honest = reidentification_risks(members, unseen, holdout, meta, n_attacks=500, seed=0)
    for key in ("singling_out_univariate", "linkability"):
        assert copier[key]["ci"][0] > 0.02, (key, copier[key])  # the interval excludes no risk
        assert honest[key]["risk"] < copier[key]["risk"]
        assert honest[key]["ci"][0] < 0.02, (key, honest[key])
    assert copier["linkability"]["beats_baseline"]
    assert set(copier["inference"]) == {c for c in meta.names}
    worst = copier["inference_worst"]
    assert worst["column"] in copier["inference"] and worst["attacks"] + worst["chosen_on"] == 500
    assert worst["risk"] > 0.5
    # chosen on one half of the attacks, measured on the other: no bias from taking a maximum
    assert honest["inference_worst"]["ci"][0] < 0.02, honest["inference_worst"]


def test_bitset_counts_equal_the_plain_counts(split):
    _members, unseen, _holdout, meta = split
    coded = _Coded(meta, [unseen])
    x = np.where(np.isnan(coded.values[0]), np.inf, coded.values[0])
    numeric = np.asarray(coded.numeric)
    rng = np.random.default_rng(1)
    medians = np.array([np.median(c[np.isfinite(c)]) for c in x.T])
    index = _BitIndex(x, coded.numeric)
    for queries in (
        _record_queries(x, numeric, medians, 3, 500, rng),
        _random_queries(x, numeric, 2, 500, rng),  # every operator, missing values included
        _univariate_queries(x, coded.numeric),
    ):
        assert np.array_equal(index.counts(queries), queries.counts(x))
    assert isinstance(queries, Queries)


def test_evaluate_reports_the_attacks_only_when_asked(split):
    members, unseen, holdout, meta = split
    cheap = {"detection_gbm": False, "detection_xgb": False, "diversity": False}  # not what is tested here
    plain = evaluate(members, unseen, meta, real_test=holdout, **cheap)
    assert "membership_auc" not in plain.metrics["privacy"]
    full = evaluate(members, unseen, meta, real_test=holdout, **cheap, privacy_attacks=True)
    keys = {
        "membership_auc",
        "membership_tpr_at_1pct_fpr",
        "dcr_membership_auc",
        "singling_out_risk",
        "linkability_risk",
        "inference_risk",
    }
    assert keys <= set(full.metrics["privacy"])
    no_holdout = evaluate(members, unseen, meta, **cheap, privacy_attacks=True)
    assert "privacy attacks" in no_holdout.skipped


def test_singling_out_is_not_diluted_by_a_small_control_set_or_few_queries(split):
    """Two biases of the first port: rates divided by the attacks asked for even when fewer queries
    exist, and the training rows cut to the control set's size before the attack (a copier scored 0.997
    with equal sizes and 0.106 with a control set a quarter as large)."""
    members, _unseen, holdout, meta = split
    only = {"seed": 0, "attacks": ["singling_out_univariate"]}
    equal = reidentification_risks(members, members, holdout, meta, n_attacks=500, **only)
    small = reidentification_risks(members, members, holdout.head(750), meta, n_attacks=500, **only)
    for result in (equal, small):
        so = result["singling_out_univariate"]
        assert so["risk"] > 0.5 and so["beats_baseline"], so
        assert so["attacks"] == so["queries"] <= so["requested"] == 500
    assert result["rows"] == {"train": 3000, "control": 750, "synthetic": 3000}
    assert small["singling_out_univariate"]["control_size_correction"] != 1.0
    assert abs(small["singling_out_univariate"]["risk"] - equal["singling_out_univariate"]["risk"]) < 0.25
    few = reidentification_risks(members, members, holdout, meta, n_attacks=5000, **only)
    assert set(few) == {"singling_out_univariate", "rows"}  # the other attacks were not run
    # each attack draws from its own stream: its result does not depend on which others run
    both = reidentification_risks(
        members, members, holdout, meta, n_attacks=500, seed=0, attacks=ATTACKS[::2]
    )
    alone = reidentification_risks(
        members, members, holdout, meta, n_attacks=500, seed=0, attacks=ATTACKS[2:3]
    )
    assert both["singling_out_univariate"] == equal["singling_out_univariate"]
    assert both["linkability"] == alone["linkability"]
    named = reidentification_risks(
        members, members, holdout, meta, n_attacks=500, seed=0, attacks="linkability"
    )
    assert named["linkability"] == alone["linkability"]  # one name is one attack, not its letters
    with pytest.raises(ValueError, match="unknown attack 'linkage'"):
        reidentification_risks(members, members, holdout, meta, attacks=["linkage"])
    so = few["singling_out_univariate"]
    assert so["queries"] < 3000 and so["attacks"] == so["queries"]  # rates over the queries found
    assert so["risk"] > 0.5, so
