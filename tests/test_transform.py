from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulacra.metadata import Metadata
from simulacra.transform import TableTransformer


@pytest.mark.parametrize("categorical", ["frequency", "onehot"])
def test_adult_round_trip(adult_small, categorical):
    train = adult_small[0]
    meta = Metadata.detect(train)
    tt = TableTransformer(categorical=categorical).fit(train, meta)
    x = tt.transform(train)
    assert x.dtype == np.float32 and x.shape == (len(train), tt.output_dim_)
    assert tt.spans_[-1].end == tt.output_dim_
    back = tt.inverse_transform(x)
    assert list(back.columns) == list(train.columns)
    assert back.dtypes.equals(train.dtypes)
    for c in meta.names_of("categorical"):
        assert back[c].fillna("<NA>").tolist() == train[c].fillna("<NA>").tolist()
    for c in meta.names_of("numerical"):
        assert back[c].min() >= train[c].min() and back[c].max() <= train[c].max()
        assert (back[c] % 1 == 0).all()
        assert abs(back[c].median() - train[c].median()) <= 0.01 * (train[c].max() - train[c].min()) + 1


def test_hostile_round_trip(hostile):
    meta = Metadata.detect(hostile)
    tt = TableTransformer().fit(hostile, meta)
    back = tt.inverse_transform(tt.transform(hostile))
    assert back["all_null"].isna().all()
    assert (back["constant"] == 7).all()
    assert back["unicode"].tolist() == hostile["unicode"].tolist()
    assert back["many_levels"].tolist() == hostile["many_levels"].tolist()
    assert back["mixed"].tolist() == hostile["mixed"].tolist()
    assert back["flag"].tolist() == hostile["flag"].tolist()
    parsed = pd.to_datetime(back["when"])
    real = pd.to_datetime(hostile["when"], format="mixed", dayfirst=False)
    assert parsed.min() >= real.min() and parsed.max() <= real.max()


def test_missing_rate_of_numeric_is_kept():
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    x[rng.random(5000) < 0.2] = np.nan
    df = pd.DataFrame({"x": x})
    tt = TableTransformer().fit(df, Metadata.detect(df))
    assert [s.role for s in tt.spans_] == ["value", "missing"]
    back = tt.inverse_transform(tt.transform(df))
    assert back["x"].isna().tolist() == df["x"].isna().tolist()


@pytest.mark.parametrize("categorical", ["frequency", "onehot"])
def test_a_mostly_missing_numeric_column_keeps_which_rows_are_missing(adult_small, categorical):
    """More missing than present values puts "missing" first in the indicator's frequency order; the
    encoding must follow that order, or every missing row comes back present and the reverse."""
    train = adult_small[0].copy()
    gone = np.random.default_rng(0).random(len(train)) < 0.7
    train.loc[gone, "capital-gain"] = np.nan
    tt = TableTransformer(categorical=categorical).fit(train, Metadata.detect(train))
    back = tt.inverse_transform(tt.transform(train))
    assert back["capital-gain"].isna().tolist() == gone.tolist()
    present = ~gone
    assert back.loc[present, "capital-gain"].median() == train.loc[present, "capital-gain"].median()


def test_state_round_trip(adult_small):
    train = adult_small[0]
    tt = TableTransformer().fit(train, Metadata.detect(train))
    clone = TableTransformer.from_state(tt.to_state())
    assert np.array_equal(clone.transform(train), tt.transform(train))


def test_mode_specific_normalization_round_trip(adult_small):
    train = adult_small[0]
    meta = Metadata.detect(train)
    tt = TableTransformer("mode_specific", "onehot", seed=3).fit(train, meta)
    x = tt.transform(train)
    modes = [s for s in tt.spans_ if s.role == "mode"]
    assert len(modes) == len(meta.names_of("numerical"))
    # up to 10 Gaussian modes, plus one point-mass mode per value holding ≥ 10 % of the rows
    assert all(1 <= s.end - s.start <= 20 for s in modes)
    gain = tt.columns_["capital-gain"]["value"]
    assert 0.0 in gain.means_[gain.stds_ == 0]  # the zeros of capital-gain are a point mass
    # each mode block is one-hot and α lies in [-0.99, 0.99]
    for s in modes:
        assert np.array_equal(x[:, s.start : s.end].sum(1), np.ones(len(x), dtype=np.float32))
        assert np.abs(x[:, s.start - 1]).max() <= 0.99
    back = tt.inverse_transform(x)
    assert back.dtypes.equals(train.dtypes)
    for c in ("age", "hours-per-week", "education-num", "capital-gain"):
        assert (back[c] == train[c]).mean() > 0.99  # α is clipped only for values beyond 4σ of every mode
    assert ((back["capital-gain"] == 0) == (train["capital-gain"] == 0)).all()  # point masses are exact
    state = TableTransformer.from_state(tt.to_state())
    assert np.array_equal(state.transform(train), x)
    # the same seed gives the same mixture and the same sampled modes
    again = TableTransformer("mode_specific", "onehot", seed=3).fit(train, meta)
    assert np.array_equal(again.transform(train), x)


def test_value_grids_and_decimals_hold_for_any_matrix(adult_small):
    """A column of few distinct values decodes onto them, whatever the matrix; a float column of more
    values keeps its decimals (the issue's TVAE returned 573 values for a column of six)."""
    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame(
        {
            "share": rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], n),
            "price": np.round(rng.lognormal(3, 1, n), 2),  # thousands of values, two decimals
            "age": adult_small[0]["age"].iloc[:n].to_numpy(),
        }
    )
    meta = Metadata.detect(df)
    for numerical in ("normal_score", "mode_specific"):
        tt = TableTransformer(numerical=numerical).fit(df, meta)
        assert tt.columns_["share"]["grid"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        assert tt.columns_["price"]["grid"] is None and tt.columns_["price"]["decimals"] == 2
        noise = tt.transform(df) + rng.normal(0, 0.3, (n, tt.output_dim_)).astype(np.float32)
        back = tt.inverse_transform(noise)
        assert set(back["share"].unique()) <= set(df["share"].unique())
        assert back["share"].nunique() >= 4
        assert np.allclose(back["price"], np.round(back["price"], 2)) and back["price"].nunique() > 500
        assert set(back["age"].unique()) <= set(df["age"].unique())
        state = TableTransformer.from_state(tt.to_state())
        pd.testing.assert_frame_equal(state.inverse_transform(noise), back)
