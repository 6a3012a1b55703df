"""The time-series modality on the bundled Stocks and Energy series: the data checks, the ``series-ar``
model on one long series and on keyed sequences with context, and the TimeGAN-protocol metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from simulacra import datasets
from simulacra.cli import main
from simulacra.errors import ConditionError, ConfigError, DataError
from simulacra.evaluate.series import (
    Scaler,
    correlational_score,
    discriminative_score,
    evaluate_series,
    held_out_windows,
    windows,
)
from simulacra.io import SeriesSet
from simulacra.synthesizers import BaseSynthesizer, make

SMALL = {"epochs": 2, "hidden": 16, "layers": 1, "verbose": False}


@pytest.fixture(scope="module")
def stocks():
    train, test = datasets.load("stocks")
    return train.subset(np.arange(600)), test


@pytest.fixture(scope="module")
def days():
    """Four weeks of the Energy series as keyed sequences: one per day (144 ten-minute rows), the
    weekday as context, a few columns."""
    train, _ = datasets.load("energy")
    frame = train.frame.iloc[: 144 * 28][["date", "Appliances", "T1", "RH_1", "lights"]].copy()
    frame["day"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame["weekday"] = frame["date"].dt.day_name()
    return SeriesSet(frame, sequence_index="date", sequence_key="day", context_columns=("weekday",))


@pytest.fixture(scope="module")
def one_series(stocks):
    return make("series-ar", **SMALL).fit(stocks[0])


@pytest.fixture(scope="module")
def keyed(days):
    return make("series-ar", **SMALL).fit(days)


def test_series_checks_its_index_key_and_context_in_one_line():
    frame = pd.DataFrame({"t": [1, 2, 2, 3], "x": [1.0, 2.0, 3.0, 4.0], "k": ["a", "a", "b", "b"], "y": 0})
    with pytest.raises(
        DataError, match=r"^`sequence_index` 't' repeats the value 2 within one series \(2 rows\); drop"
    ):
        SeriesSet(frame, sequence_index="t")
    keyed = SeriesSet(frame, sequence_index="t", sequence_key="k")  # 2 is in two sequences: fine
    assert keyed.lengths().tolist() == [2, 2]
    with pytest.raises(DataError, match=r"^context column 'x' changes within an entity of 'k'"):
        SeriesSet(frame, sequence_index="t", sequence_key="k", context_columns=("x",))
    with pytest.raises(DataError, match=r"^no column 'x2'"):
        SeriesSet(frame, sequence_index="x2")
    text = frame.assign(t=["a", "b", "c", "d"])
    with pytest.raises(DataError, match=r"neither times nor numbers"):
        SeriesSet(text, sequence_index="t")


def test_a_series_splits_in_time_and_keyed_sequences_by_entity(days):
    train, test = datasets.load("stocks")
    assert (len(train), len(test)) == (2948, 737)  # the last 20 % of the days
    train, test = days.split(test_size=0.25, seed=0)
    assert set(train.frame["day"]).isdisjoint(test.frame["day"]) and len(test.lengths()) == 7


def test_one_series_keeps_the_joint_structure_of_a_step_and_its_range(one_series, stocks):
    model = one_series
    refs = {c["name"]: c.get("ref") for c in model.columns_}
    names = [c["name"] for c in model.columns_]
    assert names[refs["Adj_Close"]] == "Close"  # the same price: its difference is an exact atom
    out = model.sample(400, seed=3).frame
    assert list(out.columns) == list(stocks[0].frame.columns) and len(out) == 400
    assert (out["Adj_Close"] == out["Close"]).mean() > 0.95
    real = stocks[0].frame
    for c in real.columns:
        assert real[c].min() <= out[c].min() and out[c].max() <= real[c].max()
    assert out["Volume"].dtype == np.int64  # integers stay integers


def test_a_binned_number_is_drawn_by_the_quantiles_inside_its_bins(stocks):
    """Stocks' daily volume is skewed: inside its widest bins, a uniform draw spreads values evenly
    towards the bin's far end, where few real days lie; the quantiles kept inside each bin draw the
    real distribution back. A spec saved before them still draws uniformly, inside the same bins."""
    from simulacra.synthesizers.series import WITHIN, _bins, _classify, _draw

    volume = np.sort(stocks[0].frame["Volume"].to_numpy(np.float64))
    spec = _bins(volume, 32)
    assert np.shape(spec["within"]) == (len(spec["edges"]) - 1, WITHIN + 1)
    classes = _classify(volume, spec)
    legacy = {k: spec[k] for k in ("atoms", "edges")}
    drawn = {
        name: np.sort(_draw(classes, s, np.random.default_rng(0)))
        for name, s in (("new", spec), ("old", legacy))
    }
    for values in drawn.values():  # each value stays inside its own bin
        assert np.array_equal(_classify(values, spec), np.sort(classes))
    edges, u = np.asarray(spec["edges"]), np.random.default_rng(0).random(len(volume))
    assert not spec["atoms"]  # every day's volume differs: no value is a class of its own
    k = classes
    uniform = edges[k] + u * (edges[k + 1] - edges[k])  # what the draw was before the quantiles
    assert np.allclose(drawn["old"], np.sort(uniform)) and not np.allclose(drawn["new"], drawn["old"])
    top = volume > np.quantile(volume, 0.9)  # the skewed tail, a few wide bins
    error = {name: np.abs(np.log(v[top] / volume[top])).mean() for name, v in drawn.items()}
    assert error["new"] < 0.6 * error["old"], error


def test_first_rows_drawn_by_the_table_model_keep_the_columns_correlations():
    """A window's first row is a table row: the `mixture` draws it (first_row="table"), so the
    columns' correlations hold from the first step; a barely trained network's first step loses them."""
    train, _ = datasets.load("energy")
    columns = ["T1", "RH_1", "T2", "RH_2", "T3", "T_out", "RH_out", "Tdewpoint"]
    series = SeriesSet(train.frame.iloc[:3000][["date", *columns]], sequence_index="date")
    real = np.corrcoef(series.frame[columns].to_numpy(float).T)
    error = {}
    for first_row in ("table", "network"):
        model = make("series-ar", first_row=first_row, **SMALL).fit(series)
        assert (model.start_model_ is not None) == (first_row == "table")
        first = model.sample(300, sequence_length=4, seed=0).frame.groupby("window").head(1)[columns]
        drawn = np.corrcoef(first.to_numpy(float).T)
        error[first_row] = np.abs(drawn - real)[np.tril_indices(len(columns), -1)].mean()
    assert error["table"] < 0.08 < error["network"], error


def test_the_last_epochs_weights_are_kept_unless_the_best_ones_are_asked_for(stocks):
    settings = {**SMALL, "epochs": 6, "patience": None}
    last = make("series-ar", **settings).fit(stocks[0])
    best = make("series-ar", weights="best", **settings).fit(stocks[0])
    held = [h["validation"] for h in best.history_]
    assert [h["validation"] for h in last.history_] == held  # the same training, seed for seed
    assert best.best_epoch_ == 1 + int(np.argmin(held)) and last.epochs_trained_ == 6
    pairs = zip(last.net_.state_dict().values(), best.net_.state_dict().values(), strict=True)
    same = all(torch.equal(a, b) for a, b in pairs)
    assert same == (best.best_epoch_ == 6)


def test_windows_of_one_series_and_the_same_seed_after_saving(one_series, tmp_path):
    w = one_series.sample(50, sequence_length=24, seed=1)
    assert w.sequence_key == "window" and w.lengths().tolist() == [24] * 50
    folder = one_series.save(tmp_path / "m")
    again = BaseSynthesizer.load(folder).sample(50, sequence_length=24, seed=1)
    pd.testing.assert_frame_equal(w.frame, again.frame)
    with pytest.raises(ConditionError, match="one series has no context"):
        one_series.sample(5, conditions={"Open": 1.0})


def test_the_sampler_computes_the_networks_own_hidden_states_and_logits(stocks):
    """Sampling steps the GRU's layers as cells and splits each head's first layer (one product on
    ``h_t`` for all heads): it must compute what the trained network computes."""
    model = make("series-ar", **{**SMALL, "layers": 2, "epochs": 1}).fit(stocks[0])
    weights, net = model._sampling_weights(), model.net_
    gen = torch.Generator().manual_seed(0)
    u = torch.randn((9, 4, net.gru.input_size), generator=gen)  # (B, T, D_u)
    x = torch.randn((9, 4, model.in_dim_), generator=gen)  # enc(x_t)  (B, T, D)
    steps = 0
    with torch.no_grad():
        y, _ = net.gru(u)
        h = [torch.zeros((9, net.gru.hidden_size)) for _ in weights["cells"]]
        for t in range(4):
            below = u[:, t]
            for layer, cell in enumerate(weights["cells"]):
                h[layer] = below = cell(below, h[layer])
            torch.testing.assert_close(h[-1], y[:, t])
            pre = torch.addmm(weights["a"], h[-1], weights["A"])
            offsets = np.cumsum([0, *weights["width"]])
            for j in range(len(model.columns_)):
                z = pre[:, offsets[j] : offsets[j + 1]] + x[:, t, : model.starts_[j]] @ weights["B"][j]
                logits = net.heads[j][2](z.relu())
                torch.testing.assert_close(logits, net.head(j, y[:, t], x[:, t]))
                for allowed, weight, bias in weights["cut"][j].values():
                    cut = torch.nn.functional.linear(z.relu(), weight, bias)
                    torch.testing.assert_close(cut, logits[:, allowed])
                    steps += 1
    assert steps > 0  # some column's value and step classes were cut apart


def test_keyed_sequences_draw_context_exactly_with_ordered_regular_timestamps(keyed, days):
    conditions = keyed.parse_conditions({"weekday": "Sunday"})
    out = keyed.sample(12, conditions=conditions, seed=0, sequence_length=30)
    frame = out.frame
    assert out.lengths().tolist() == [30] * 12 and set(frame["weekday"]) == {"Sunday"}
    assert not set(frame["day"]) & set(days.frame["day"])  # fresh keys, never real ones
    for _, g in frame.groupby("day"):
        assert (g["date"].diff().dropna() == pd.Timedelta(minutes=10)).all()  # the learned step
    assert set(frame["lights"]) <= set(days.frame["lights"])  # a few values: drawn among them
    drawn = keyed.sample(40, seed=1)
    assert 100 <= drawn.lengths().mean() <= 144  # lengths learned with the context (all 144 here)
    with pytest.raises(ConditionError, match=r"conditions fix context columns \(weekday\)"):
        keyed.parse_conditions({"T1": "20"})


def test_a_parent_table_gives_each_sequence_its_context_as_a_joined_column_would(
    days, one_series, tmp_path, capsys
):
    from simulacra.io.series import join_parent

    child = days.frame.drop(columns=["weekday"])
    parent = days.frame.groupby("day", as_index=False)["weekday"].first()  # one row per entity
    parent["season"] = np.where(parent["day"] < "2016-02-28", "early", "late")
    frame, joined = join_parent(child, pd.concat([parent, parent.iloc[:1].assign(day="2099-01-01")]), "day")
    assert joined == ["weekday", "season"] and len(frame) == len(child)  # a parent without rows: unused
    assert frame.groupby("day")["weekday"].nunique().max() == 1
    pd.testing.assert_series_equal(frame["weekday"], days.frame["weekday"], check_names=False)

    child.to_csv(tmp_path / "readings.csv", index=False)
    parent.to_csv(tmp_path / "days.csv", index=False)
    model, out = tmp_path / "m", tmp_path / "s.csv"
    base = ["fit", str(tmp_path / "readings.csv"), "--sequence-index", "date", "--sequence-key", "day"]
    params = [f"--param={k}={str(v).lower()}" for k, v in SMALL.items()]
    assert main([*base, "--parent-table", str(tmp_path / "days.csv"), "-o", str(model), *params]) == 0
    assert "context weekday, season" in capsys.readouterr().out
    assert main(["sample", str(model), "-n", "6", "--condition", "weekday=Monday", "-o", str(out)]) == 0
    capsys.readouterr()
    drawn = pd.read_csv(out)
    assert set(drawn["weekday"]) == {"Monday"} and set(drawn["season"]) <= {"early", "late"}
    assert drawn.groupby("day")["season"].nunique().max() == 1  # context is constant per sequence

    # the sample's context as a parent table of its own, which fit reads back: the same rows
    rows, ctx = tmp_path / "rows.csv", tmp_path / "ctx.csv"
    again = ["sample", str(model), "-n", "6", "--condition", "weekday=Monday", "-o", str(rows)]
    assert main([*again, "--context-output", str(ctx)]) == 0
    capsys.readouterr()
    split = pd.read_csv(rows)
    assert "weekday" not in split.columns and "season" not in split.columns
    assert sorted(pd.read_csv(ctx).columns) == ["day", "season", "weekday"] and len(pd.read_csv(ctx)) == 6
    rejoined = SeriesSet.read(rows, sequence_index="date", sequence_key="day", parent_table=ctx).frame
    expected = drawn.assign(date=pd.to_datetime(drawn["date"]))
    pd.testing.assert_frame_equal(rejoined[drawn.columns], expected, check_dtype=False)
    refused = {  # one line each, nothing written
        str(rows): "--context-output is -o/--output; give the parent table a file of its own",
        str(model / "state.json"): "which this command reads",
    }
    for target, why in refused.items():
        code = main([*again, "--force", "--context-output", target])
        err = capsys.readouterr().err.strip()
        assert code == 2 and why in err and "\n" not in err, err
    plain = one_series.save(tmp_path / "plain")
    code = main(
        ["sample", str(plain), "-n", "6", "-o", str(tmp_path / "p.csv"), "--context-output", str(ctx)]
    )
    assert code == 2 and "--context-output writes a keyed model's context columns" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()

    first = parent["day"].iloc[0]
    bad = {  # each refused in one line before any work, nothing written
        "dup.csv": (
            pd.concat([parent, parent.iloc[:1]]),
            f"'day' {first!r} has 2 rows; the parent table holds one row per entity",
        ),
        "orphan.csv": (parent.iloc[1:], f"the sequence {first!r} has no parent row (1 sequences in all)"),
        "both.csv": (parent.assign(T1=1.0), "column 'T1' is in both tables; rename it or drop it from one"),
        "nokey.csv": (parent.rename(columns={"day": "date_key"}), "has no column 'day' (--sequence-key)"),
    }
    assert (
        main(["fit", "stocks", "--parent-table", str(tmp_path / "days.csv"), "-o", str(tmp_path / "b")]) == 2
    )
    assert (
        "drop --sequence-index, --sequence-key, --context-columns and --parent-table"
        in capsys.readouterr().err
    )
    for name, (table, why) in bad.items():
        table.to_csv(tmp_path / name, index=False)
        target = tmp_path / f"m-{name}"
        code = main([*base, "--parent-table", str(tmp_path / name), "-o", str(target), *params])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error: ") and why in err and "\n" not in err, (name, err)
        assert not target.exists()


def test_keyed_sequences_written_in_parts_keep_their_keys_apart_and_their_context_exact(keyed, tmp_path):
    from simulacra.modalities.series import write_series_part

    draw = {"conditions": keyed.parse_conditions({"weekday": "Friday"}), "seed": 5, "temperature": 1.0}
    draw["sequence_length"] = 3
    rows = [
        write_series_part(keyed, str(tmp_path), i, a, b, draw)
        for i, (a, b) in enumerate([(0, 1024), (1024, 1100)])
    ]
    parts = [pd.read_parquet(tmp_path / f"part-0000{i}.parquet") for i in range(2)]
    assert rows == [1024 * 3, 76 * 3] and [len(p) for p in parts] == rows
    keys = pd.concat(parts)["day"]
    assert keys.nunique() == 1100 and keys.iloc[-1] == "day-001100"  # numbered across the parts
    assert set(pd.concat(parts)["weekday"]) == {"Friday"}
    (tmp_path / "again").mkdir()  # a part drawn alone is the same part: each block has its own seed
    assert write_series_part(keyed, str(tmp_path / "again"), 1, 1024, 1100, draw) == rows[1]
    assert pd.read_parquet(tmp_path / "again" / "part-00001.parquet").equals(parts[1])


def test_sequence_classification_tstr_reads_the_class_from_the_rows_and_catches_shuffled_labels():
    from simulacra.evaluate.series import Scaler, sequence_classification, sequence_target

    train, _ = datasets.load("energy")
    frame = train.frame[["date", "Appliances", "lights", "T1"]].copy()
    frame["day"] = frame["date"].dt.strftime("%Y-%m-%d")
    busy = frame.groupby("day")["Appliances"].transform("mean")
    frame["busy"] = np.where(busy > busy.median(), "busy", "quiet")  # a class the rows carry
    days = sorted(frame["day"].unique())
    cut = frame["day"].isin(days[: int(0.7 * len(days))])
    real = SeriesSet(frame[cut], sequence_index="date", sequence_key="day", context_columns=("busy",))
    test = SeriesSet(frame[~cut], sequence_index="date", sequence_key="day", context_columns=("busy",))
    assert sequence_target(real, real, test, None) == "busy"  # the only categorical context column
    with pytest.raises(DataError, match="`target` 'T1' is not a context column"):
        sequence_target(real, real, test, "T1")
    scaler = Scaler(real)
    same = sequence_classification(scaler, real, real, test, "busy")
    assert same["tstr"] == same["trtr"] > same["majority"] + 0.2  # synthetic = real: TSTR is TRTR
    firsts = real.frame.groupby("day", sort=False).head(1)  # the labels moved to other days
    moved = dict(
        zip(firsts["day"], np.random.default_rng(0).permutation(firsts["busy"].to_numpy()), strict=True)
    )
    shuffled = real.frame.assign(busy=real.frame["day"].map(moved))
    broken = real.like(shuffled)
    assert sequence_classification(scaler, real, broken, test, "busy")["tstr"] < same["trtr"] - 0.2


def test_timegan_scores_rank_real_windows_above_broken_ones(stocks):
    train, _ = stocks
    scaler = Scaler(train)
    seqs = scaler.sequences(train)
    first, second = seqs[0][:300], seqs[0][300:]
    real_w, other_w = windows([first], 24), windows([second], 24)
    rows = np.concatenate(seqs)[np.random.default_rng(0).permutation(600)]
    broken = windows([rows], 24)
    fair = discriminative_score(real_w, windows([first[::-1].copy()], 24), seed=0, iterations=300)
    bad = discriminative_score(real_w, broken, seed=0, iterations=300)
    assert bad > 0.2 and fair < bad  # independent rows are told apart at once
    reverse = train.like(train.frame.iloc[::-1].reset_index(drop=True))
    ev = evaluate_series(train, reverse, None, seed=0, iterations=(300, 300))
    assert set(ev.metrics["fidelity"]) == {
        "discriminative_score",
        "context_fid",
        "correlational_score",
        "autocorrelation_error",
    }
    refs = ev.details["references"]
    assert refs["independent rows"]["context_fid"] > 10 * ev.metrics["fidelity"]["context_fid"]
    # a column moved to other windows keeps its values and loses its correlation with the others
    moved = real_w.copy()
    moved[..., 0] = moved[np.random.default_rng(1).permutation(len(moved)), :, 0]
    assert correlational_score(real_w, moved) > 5 * correlational_score(real_w, real_w[::-1].copy())
    assert 0 < ev.metrics["utility"]["predictive_score_real"] < 0.2
    # no test part: the held-out pair is scored on windows the real predictor never trained on
    assert 0 < ev.metrics["utility"]["predictive_score_real_heldout"] < 0.5
    assert 0 < ev.metrics["utility"]["predictive_score_heldout"] < 0.5
    early, later = held_out_windows([seqs[0][:600]], 24)
    assert (len(early), len(later)) == (480 - 23, 120 - 23)
    assert np.array_equal(later[0], seqs[0][480:504]) and np.array_equal(early[-1], seqs[0][456:480])
    parts = [seqs[0][i : i + 30] for i in range(0, 600, 30)]  # 20 sequences: 4 held out, whole
    early, later = held_out_windows(parts, 24, seed=3)
    assert (len(early), len(later)) == (16 * 7, 4 * 7)
    assert not {w.tobytes() for w in early} & {w.tobytes() for w in later}
    assert "privacy" in ev.skipped and set(ev.details["references"]) == {"shuffled time", "independent rows"}
    assert other_w.shape[1:] == (24, 6)


def test_cli_fits_samples_windows_and_refuses_series_options_elsewhere(tmp_path, capsys):
    part = tmp_path / "days.csv"
    train, _ = datasets.load("energy")
    train.frame.iloc[:300][["date", "T1", "RH_1"]].to_csv(part, index=False)
    model, out = tmp_path / "m", tmp_path / "w.csv"
    assert main(["fit", str(part), "--sequence-index", "date", "-o", str(model), "--param", "epochs=1"]) == 0
    assert "series-ar: one series, 2 value columns, 300 rows" in capsys.readouterr().out
    assert main(["sample", str(model), "-n", "10", "--sequence-length", "6", "-o", str(out)]) == 0
    written = pd.read_csv(out)
    assert len(written) == 60 and list(written.columns) == ["window", "date", "T1", "RH_1"]
    table_model = tmp_path / "t"
    assert main(["fit", str(part), "--model", "independent", "-o", str(table_model)]) == 0
    capsys.readouterr()
    code = main(
        ["sample", str(table_model), "-n", "5", "--sequence-length", "3", "-o", str(tmp_path / "x.csv")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: --sequence-length is for keyed series models; drop it"
    assert not (tmp_path / "x.csv").exists()
    duplicated = tmp_path / "dup.csv"
    duplicated.write_text("t,x\n1,2\n1,3\n", encoding="utf-8")
    assert main(["fit", str(duplicated), "--sequence-index", "t", "-o", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --sequence-index 't' repeats the value 1 within one series (2 rows); drop the duplicate "
        "rows, or give the entity column as --sequence-key"
    )
    assert not (tmp_path / "d").exists()
    assert main(["inspect", "stocks"]) == 2  # a table command refuses a series in one line
    assert capsys.readouterr().err.strip() == (
        "error: 'stocks' is a time series dataset; this command needs a table (e.g. 'adult')"
    )


def test_the_datasets_command_lists_the_bundled_series(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "stocks: GOOG daily prices" in out and "energy: UCI Appliances energy" in out
    assert "vowels: Japanese Vowels, keyed sequences" in out


def test_japanese_vowels_are_keyed_sequences_of_varying_length_with_the_speaker_as_context():
    train, test = datasets.load("vowels")
    assert (train.sequence_key, train.sequence_index, train.context_columns) == (
        "utterance",
        "frame",
        ("speaker",),
    )
    assert len(train.lengths()) == 270 and len(test.lengths()) == 370  # the UEA archive's split
    lengths = np.concatenate([train.lengths(), test.lengths()])
    assert lengths.min() == 7 and lengths.max() == 29
    assert train.value_columns == [f"lpc{j}" for j in range(1, 13)]
    assert train.context()["speaker"].value_counts().tolist() == [30] * 9  # 30 utterances per speaker
    assert not set(train.frame["utterance"]) & set(test.frame["utterance"])


def test_keyed_first_rows_keep_the_speaker_they_were_drawn_with():
    """The context model draws each sequence's context and first row together: a classifier of the
    speaker trained on the real first rows must recognise the drawn ones (about half came back with
    another speaker's label when a few hundred entities had one smoothed component each)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, _ = datasets.load("vowels")
    model = make("series-ar", **{**SMALL, "epochs": 1}).fit(train)
    drawn = model.sample(270, seed=0)

    def firsts(series):
        rows = series.frame.groupby(series.sequence_key, sort=False).head(1)
        return rows[train.value_columns].to_numpy(), rows["speaker"].astype(str).to_numpy()

    x_real, y_real = firsts(train)
    x_drawn, y_drawn = firsts(drawn)
    classifier = HistGradientBoostingClassifier(random_state=0).fit(x_real, y_real)
    assert np.mean(classifier.predict(x_drawn) == y_drawn) > 0.75
    assert model.context_model_.components == 270 // 3


@pytest.mark.slow
def test_bench_on_a_bundled_series_follows_the_timegan_protocol(tmp_path):
    out = tmp_path / "bench"
    argv = ["bench", "--models", "series-ar", "--data", "stocks", "-o", str(out)]
    argv += ["--param", "epochs=1", "--param", "hidden=16", "--param", "layers=1", "--param", "verbose=false"]
    assert main(argv) == 0
    result = json.loads((out / "bench.json").read_text())["results"][0]
    assert result["epochs"] == 1 and result["fit_s"] > 0 and result["sample_rows_per_s"] > 0
    assert 0 <= result["discriminative_score"] <= 0.5 and 0 < result["predictive_score_real"] < 0.1
    refs = result["references"]
    assert refs["independent rows"]["discriminative_score"] > 0.4  # no temporal structure: caught
    assert refs["shuffled time"]["discriminative_score"] < refs["independent rows"]["discriminative_score"]
    assert "| series-ar |" in (out / "bench.md").read_text()


# ------------------------------------------------------------------------------------- augmentation
def test_every_series_augmentation_changes_values_keeps_columns_and_is_seeded(stocks):
    from simulacra.augment.series import CONSTRAINTS, SeriesAugmenter, augment_series

    series = stocks[0]
    real = series.frame[series.value_columns].to_numpy(np.float64)[:576]
    for op in CONSTRAINTS:
        augmenter = SeriesAugmenter([{"op": op}], window=24)
        out = augment_series(series, augmenter, copies=2, seed=1)
        assert out.sequence_key == "window" and out.lengths().tolist() == [24] * 50, op
        assert list(out.frame.dtypes[series.value_columns]) == list(series.frame.dtypes[series.value_columns])
        first = out.frame[series.value_columns].to_numpy(np.float64)[:576]
        assert np.abs(first - real).mean() > 0, op  # every op moves something
        assert (out.frame["Volume"] >= 0).all(), op  # a non-negative column stays so
        again = augment_series(series, augmenter, copies=2, seed=1)
        assert again.frame.equals(out.frame), op
    # permutation moves whole rows: each window holds the same rows as before, in another order
    out = augment_series(series, SeriesAugmenter([{"op": "permutation", "segments": 4}], window=24), seed=2)
    for w in range(3):
        a = np.sort(out.frame[series.value_columns].to_numpy()[24 * w : 24 * (w + 1)], axis=0)
        b = np.sort(real[24 * w : 24 * (w + 1)], axis=0)
        np.testing.assert_allclose(a, b)
    # p = 0: nothing happens, and one series with one copy comes back as one series
    same = augment_series(series, SeriesAugmenter([{"op": "jitter", "p": 0.0}]))
    assert same.sequence_key is None
    pd.testing.assert_frame_equal(same.frame, series.frame)


def test_keyed_augmentation_keeps_context_and_index_and_renames_the_copies(days):
    from simulacra.augment.series import SeriesAugmenter, augment_series

    augmenter = SeriesAugmenter([{"op": "magnitude_warp"}, {"op": "window_warp", "p": 0.5}])
    out = augment_series(days, augmenter, copies=2, seed=0)
    assert len(out) == 2 * len(days) and out.context_columns == ("weekday",)
    first_key = days.frame["day"].iloc[0]
    copy = out.frame[out.frame["day"] == f"{first_key}-aug1"].reset_index(drop=True)
    original = days.sequences()[0]
    pd.testing.assert_series_equal(copy["date"], original["date"])  # values move, times stay
    assert copy["weekday"].nunique() == 1 and copy["weekday"].iloc[0] == original["weekday"].iloc[0]
    assert copy["lights"].dtype == original["lights"].dtype == np.int64  # whole numbers stay whole
    assert not np.allclose(copy["T1"], original["T1"])
    with pytest.raises(ConfigError, match=r"^window: cuts one long series into pieces"):
        augment_series(days, SeriesAugmenter([{"op": "jitter"}], window=24))


def test_series_augment_on_the_cli_reports_the_forecasting_effect_or_refuses(tmp_path, capsys):
    (tmp_path / "aug.yaml").write_text("window: 24\nsteps:\n  - {op: jitter}\n  - {op: scaling, p: 0.5}\n")
    (tmp_path / "bad.yaml").write_text("steps:\n  - {op: time_warp, knots: 0}\n")
    # 720 rows of Stocks to augment (30 windows of 24) and the next 240 to score on: the predictors of
    # the effect line train in seconds on a part, and for minutes on the bundled set
    frame = datasets.load("stocks")[0].frame.iloc[:960]
    frame.insert(0, "date", pd.date_range("2010-01-04", periods=960, freq="D"))
    frame.iloc[:720].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[720:].to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "aug.csv"
    args = [
        "augment",
        str(tmp_path / "train.csv"),
        "--sequence-index",
        "date",
        "--test",
        str(tmp_path / "test.csv"),
    ]
    assert main([*args, "--pipeline", str(tmp_path / "bad.yaml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: augmentation step 1 (time_warp)") and err.count("\n") == 1
    assert not out.exists()
    assert main([*args, "--pipeline", str(tmp_path / "aug.yaml"), "-o", str(out), "--seed", "3"]) == 0
    said = capsys.readouterr().out
    assert "augmented rows" in said and "predictive score (MAE on 240 test rows' windows" in said
    written = pd.read_csv(out)
    assert written["window"].nunique() == 720 // 24


# ---------------------------------------------------------------------------------- series-diffusion
TINY_DIFFUSION = {"epochs": 2, "hidden": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1}


def test_series_diffusion_draws_windows_in_range_and_the_same_after_saving(tmp_path, capsys):
    part = tmp_path / "energy.csv"
    train, _ = datasets.load("energy")
    train.frame.iloc[:400][["date", "Appliances", "T1", "RH_1"]].to_csv(part, index=False)
    model = tmp_path / "m"
    params = [x for k, v in TINY_DIFFUSION.items() for x in ("--param", f"{k}={v}")]
    args = ["fit", str(part), "--sequence-index", "date", "--model", "series-diffusion", "-o", str(model)]
    assert main([*args, *params]) == 0
    assert "windows of 24 rows of one series, 3 value columns, 400 rows" in capsys.readouterr().out
    out = tmp_path / "w.csv"
    assert main(["sample", str(model), "-n", "30", "--sequence-length", "12", "-o", str(out)]) == 0
    written = pd.read_csv(out, parse_dates=["date"])
    real = pd.read_csv(part, parse_dates=["date"])
    assert len(written) == 360 and list(written.columns) == ["window", "date", "Appliances", "T1", "RH_1"]
    for c in ("Appliances", "T1", "RH_1"):
        assert real[c].min() <= written[c].min() and written[c].max() <= real[c].max()
    assert (written["Appliances"] % 10 == 0).all()  # its grid of tens, as in the data
    assert written["date"].iloc[0] == real["date"].iloc[-1] + pd.Timedelta(minutes=10)
    again = tmp_path / "w2.csv"
    assert main(["sample", str(model), "-n", "30", "--sequence-length", "12", "-o", str(again)]) == 0
    assert again.read_text() == out.read_text()  # the same seed after loading: the same windows
    capsys.readouterr()
    assert main(["sample", str(model), "-n", "30", "-o", str(tmp_path / "long.csv")]) == 2
    assert capsys.readouterr().err.startswith(
        "error: series-diffusion draws independent windows of up to 24 rows; give --sequence-length"
    )
    assert (
        main(["sample", str(model), "-n", "3", "--sequence-length", "25", "-o", str(tmp_path / "x.csv")]) == 2
    )
    assert not (tmp_path / "long.csv").exists() and not (tmp_path / "x.csv").exists()


def test_series_diffusion_trains_whole_epochs_up_to_max_steps(tmp_path):
    """400 rows are 377 windows of 24, six steps of 64 an epoch: a cap of 7 steps ends training after
    the second epoch, whatever ``epochs`` says; no cap trains every epoch; a model saved before the
    cap existed loads as trained without one."""
    train, _ = datasets.load("energy")
    part = train.like(train.frame.iloc[:400][["date", "Appliances", "T1"]])
    tiny = {**TINY_DIFFUSION, "epochs": 5, "verbose": False}
    capped = make("series-diffusion", **tiny, max_steps=7).fit(part)
    assert capped.epochs_trained_ == 2 and capped._iteration == 12
    assert make("series-diffusion", **tiny, max_steps=None).fit(part).epochs_trained_ == 5
    capped.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"].pop("max_steps") == 7
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    assert BaseSynthesizer.load(tmp_path / "m").get_params()["max_steps"] is None


def test_series_diffusion_refuses_what_it_does_not_model(days):
    with pytest.raises(DataError, match=r"^series-diffusion learns windows of one long series; for keyed"):
        make("series-diffusion", **TINY_DIFFUSION).fit(days)
    frame = pd.DataFrame({"x": [1.0, np.nan] * 20, "y": range(40)})
    with pytest.raises(DataError, match=r"^series-diffusion: column 'x' has missing values"):
        make("series-diffusion", **TINY_DIFFUSION).fit(SeriesSet(frame))
    with pytest.raises(ConfigError, match=r"`hidden` \(16\) must be a multiple of `heads` \(3\)"):
        make("series-diffusion", **{**TINY_DIFFUSION, "heads": 3}).fit(SeriesSet(frame.fillna(0)))


def test_keyed_evaluation_has_sdmetrics_sequence_metrics_and_a_window_membership_attack(
    days, keyed, tmp_path, monkeypatch
):
    """Keyed Energy days, split by entity: the real training days scored as if synthetic are the same
    on every per-sequence statistic and give themselves away to the membership attack (each member
    window has a copy); a model's days are neither. ``evaluate_series`` reports both, and the report
    draws every plot in headless Chromium. (Context-FID, not read here, trains its encoder for 50
    iterations instead of 600: ``test_timegan_scores_rank_real_windows_above_broken_ones`` checks it.)"""
    from helpers import chromium_plots
    from simulacra.evaluate import ts2vec
    from simulacra.evaluate.series import inter_row_msas, statistic_msas, window_membership
    from simulacra.report.series import SeriesReport

    monkeypatch.setattr(ts2vec, "iterations_for", lambda values: 50)

    train, test = days.split(test_size=0.25, seed=0)
    drawn = keyed.sample(21, seed=3)
    scaler = Scaler(train)
    real, fake, held = scaler.sequences(train), scaler.sequences(drawn), scaler.sequences(test)
    numeric = scaler.numeric_columns()
    assert len(numeric) == 4  # Appliances, T1, RH_1, lights (the date is the index)
    assert statistic_msas(real, real, numeric) == dict.fromkeys(("mean", "median", "sd", "min", "max"), 1.0)
    assert inter_row_msas(real, real, numeric) == 1.0
    by_statistic = statistic_msas(real, fake, numeric)
    assert (
        all(0.0 <= v < 1.0 for v in by_statistic.values())
        and 0.0 <= inter_row_msas(real, fake, numeric) < 1.0
    )
    real_w, held_w, fake_w = windows(real, 24), windows(held, 24), windows(fake, 24)
    copied = window_membership(real_w, held_w, real_w, seed=0)
    assert copied["auc"] > 0.95 and copied["tpr_at_fpr"] > 0.5
    attack = window_membership(real_w, held_w, fake_w, seed=0)
    assert attack["auc"] < copied["auc"] and attack["auc_ci"][0] <= attack["auc"] <= attack["auc_ci"][1]
    ev = evaluate_series(train, drawn, test, seed=0, iterations=(50, 50), references=False)
    assert ev.metrics["fidelity"]["statistic_msas"] == pytest.approx(np.mean(list(by_statistic.values())))
    assert ev.metrics["privacy"]["window_membership_auc"] == pytest.approx(attack["auc"])
    task = ev.details["sequence_classification"]  # weekday, the only categorical context column
    assert task["target"] == "weekday" and task["sequences"] == {"real": 21, "synthetic": 21, "test": 7}
    assert ev.metrics["utility"]["tstr_accuracy"] == task["tstr"] and 0 <= task["trtr"] <= 1
    page = SeriesReport(ev, train, drawn, history=keyed.history_).to_html(tmp_path / "report.html")
    html = page.read_text()
    for metric in ("statistic_msas", "inter_row_msas", "window_membership_auc", "tstr_accuracy"):
        assert f"<td>{metric}</td>" in html, metric
    assert "StatisticMSAS: 1 − KS" in html and "1 % false positives" in html  # their descriptions
    assert chromium_plots(page, tmp_path)[:2] == (4, 4)  # overlay, ACF, PCA, training curves
