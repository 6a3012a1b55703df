"""The neural table models' training rows: in memory or in a memory-mapped file, whole or streamed
from a table read in chunks, they train the same networks batch for batch. Real Adult and Bank
Marketing rows, real files, real fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from simulacra import datasets
from simulacra.cli import main
from simulacra.errors import ConfigError
from simulacra.io import iter_table
from simulacra.metadata import Metadata
from simulacra.synthesizers import BaseSynthesizer, make
from simulacra.synthesizers.batches import DiskBatches, MemoryBatches, encode_batches
from simulacra.transform import TableTransformer

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    return datasets.load("bank")[0].iloc[:3000].reset_index(drop=True)


def _chunks(df: pd.DataFrame, rows: int):
    return (df.iloc[i : i + rows] for i in range(0, len(df), rows))


def test_a_table_encoded_in_pieces_is_the_table_encoded_whole(adult_small):
    data = adult_small[0]
    tt = TableTransformer(numerical="mode_specific", categorical="onehot", seed=4, max_modes=5)
    tt.fit(data, Metadata.detect(data))
    tt.BLOCK_ROWS = 512  # several blocks in 3,000 rows
    whole = tt.transform(data)
    pieces = [tt.transform(data.iloc[i : i + 1024], first_row=i) for i in range(0, len(data), 1024)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    # the mode draws differ from block to block: the same rows in another block encode otherwise
    assert not np.array_equal(tt.transform(data.iloc[:512], first_row=512), whole[:512])
    with pytest.raises(ValueError, match="multiple of 512"):
        tt.transform(data.iloc[:10], first_row=100)


def test_a_stream_encodes_to_the_matrix_of_the_whole_table(adult_small, tmp_path):
    data = adult_small[0]
    data.to_csv(tmp_path / "t.csv", index=False)
    tt = TableTransformer(numerical="mode_specific", categorical="onehot", seed=1, max_modes=5)
    tt.fit(data, Metadata.detect(data))
    tt.BLOCK_ROWS = 700
    whole = tt.transform(data)
    seen: list[int] = []
    source = encode_batches(
        tt,
        iter_table(tmp_path / "t.csv", chunk_rows=333),  # pieces that straddle the blocks
        device=CPU,
        directory=tmp_path,
        expected_rows=len(data),
        prepare=lambda piece: piece[list(data.columns)],
        on_rows=seen.append,
    )
    assert isinstance(source, DiskBatches) and len(source) == len(data) and sum(seen) == len(data)
    file = source.path
    assert file.stat().st_size == whole.nbytes
    assert torch.equal(source.map_chunks(lambda c: c), torch.from_numpy(whole))
    idx = torch.tensor([2999, 0, 1500, 1500])
    assert torch.equal(source.rows(idx), torch.from_numpy(whole[idx.numpy()]))
    in_memory = encode_batches(tt, data, device=CPU, where="memory")
    assert isinstance(in_memory, MemoryBatches) and in_memory.fingerprint() == source.fingerprint()
    source.close()
    assert not file.exists() and not file.parent.exists()  # the temporary folder is gone too
    with pytest.raises(ConfigError, match="batch source 'ram'"):
        encode_batches(tt, data, device=CPU, where="ram")


def test_the_disk_source_drops_the_pages_it_read(tmp_path):
    """Pages of the map count in the resident set until they are dropped (a fault may map a whole large
    folio around the row it needs); after every read, chunk or random batch, the mapping holds none."""
    matrix = np.random.default_rng(0).random((40_000, 150), dtype=np.float32)
    matrix.tofile(tmp_path / "m.f32")
    source = DiskBatches(tmp_path / "m.f32", 150, CPU, owned=False)

    def resident_kib() -> int:
        lines = Path("/proc/self/smaps").read_text().splitlines()
        for i, line in enumerate(lines):
            if line.endswith(str(tmp_path / "m.f32")):
                return next(int(x.split()[1]) for x in lines[i + 1 :] if x.startswith("Rss:"))
        raise AssertionError("the file is not mapped")

    np.asarray(source.array[::100]).sum()  # a read that is not through the source stays mapped
    assert resident_kib() > 1000
    total = 0.0
    for chunk in source.chunks(rows=7_000):
        total += float(chunk.double().sum())
        assert resident_kib() == 0
    assert total == pytest.approx(float(matrix.sum(dtype=np.float64)), rel=1e-9)
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = torch.randint(len(source), (500,), generator=rng)
        assert torch.equal(source.rows(idx), torch.from_numpy(matrix[idx.numpy()]))
        assert resident_kib() == 0
    source.close()
    assert (tmp_path / "m.f32").exists()  # not owned: left in place


@pytest.mark.parametrize(
    "name, params",
    [("tvae", {"epochs": 2}), ("ctgan", {"epochs": 1, "batch_size": 200}), ("diffusion", {"epochs": 2})],
)
def test_memory_and_disk_sources_train_the_same_networks(name, params, adult_small, tmp_path):
    data = adult_small[0]
    fits = {
        where: make(name, seed=7, verbose=False, **params).fit(data, batch_source=where, batch_dir=tmp_path)
        for where in ("memory", "disk")
    }
    assert fits["memory"].history_ == fits["disk"].history_
    pd.testing.assert_frame_equal(fits["memory"].sample(300, seed=2), fits["disk"].sample(300, seed=2))
    assert list(tmp_path.iterdir()) == []  # the memory-mapped file was removed after the fit


def test_streamed_rows_train_as_the_table_given_whole(bank, tmp_path):
    """Bank Marketing through TVAE: the rows streamed in pieces of 777 (each reduced to the model's
    columns) train exactly as the same rows given as one DataFrame; a stream holding more rows than the
    sample trains another model."""
    whole = make("tvae", epochs=2, seed=3, verbose=False).fit(bank)
    streamed = make("tvae", epochs=2, seed=3, verbose=False).fit(
        bank, rows=lambda: _chunks(bank, 777), expected_rows=len(bank), batch_dir=tmp_path
    )
    assert streamed.history_ == whole.history_
    pd.testing.assert_frame_equal(streamed.sample(200, seed=1), whole.sample(200, seed=1))
    sample = bank.iloc[::3]  # the encoding fitted on a third of the rows, the networks trained on all
    more = make("tvae", epochs=2, seed=3, verbose=False).fit(sample, rows=lambda: _chunks(bank, 1000))
    fewer = make("tvae", epochs=2, seed=3, verbose=False).fit(sample)
    assert more.history_ != fewer.history_
    with pytest.raises(ConfigError, match="batch_source 'ram'"):
        make("tvae", epochs=1, verbose=False).fit(bank, batch_source="ram")


def test_fit_all_rows_streams_a_large_table_from_disk(adult, tmp_path, capsys):
    big = pd.concat([adult[0]] * 2, ignore_index=True)
    big.to_csv(tmp_path / "big.csv", index=False)
    argv = ["fit", str(tmp_path / "big.csv"), "--model", "tvae", "--param", "epochs=1", "--max-rows", "5000"]
    assert main([*argv, "--all-rows", "--batch-source", "disk", "-o", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert f"training on all {len(big):,} rows from a memory-mapped file" in err
    synth = BaseSynthesizer.load(tmp_path / "m")
    out = synth.sample(500, seed=0)
    assert list(out.columns) == list(big.columns) and set(out["income"]) <= set(big["income"])
    copula = ["fit", str(tmp_path / "big.csv"), "--model", "copula", "--all-rows", "-o", str(tmp_path / "c")]
    assert main(copula) == 2
    assert "--all-rows is for the neural table models" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
