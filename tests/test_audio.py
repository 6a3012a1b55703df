"""The audio data (issue 32's first part): recordings read from files, resampled, brought to one
duration with the rule recorded, labelled and split by speaker; bad files refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simulacra.errors import DataError
from simulacra.io import AudioSet

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "fsdd"


def _tone(hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture
def digits(tmp_path):
    """A flat folder named like the FSDD: 2 digits × 3 speakers × 2 takes, one take at 16 kHz."""
    folder = tmp_path / "digits"
    folder.mkdir()
    for d in (0, 1):
        for s, speaker in enumerate(("ann", "bob", "cy")):
            for i in range(2):
                rate = 16_000 if (d, s, i) == (1, 2, 1) else 8_000
                seconds = 0.3 + 0.1 * s + 0.05 * i
                soundfile.write(folder / f"{d}_{speaker}_{i}.wav", _tone(300 + 200 * d, seconds, rate), rate)
    return folder


def test_a_flat_fsdd_folder_is_labelled_by_digit_and_speaker_and_split_by_speaker(digits):
    audio = AudioSet.read(digits)
    assert len(audio) == 12 and audio.sample_rate == 8_000  # the commonest rate; one file resampled
    assert audio.class_names == ["0", "1"] and sorted(np.bincount(audio.labels)) == [6, 6]
    assert sorted(set(audio.groups)) == ["ann", "bob", "cy"]
    assert audio.waveforms.dtype == np.float32 and audio.waveforms.shape[1] == round(audio.duration * 8_000)
    assert audio.duration == pytest.approx(0.6)  # the 95th percentile of 0.3–0.55 s, rounded up
    assert "0 cut" in audio.rule and "12 of 12 padded" in audio.rule
    resampled = audio.subset(np.flatnonzero((audio.groups == "cy") & (audio.labels == 1)))
    assert resampled.lengths.tolist() == [4000, 4400]  # 0.55 s at 16 kHz → 4,400 samples at 8 kHz
    # the tone survives resampling: its spectrum peaks at 500 Hz
    spectrum = np.abs(np.fft.rfft(resampled.waveforms[1, :4400]))
    assert np.fft.rfftfreq(4400, 1 / 8_000)[spectrum.argmax()] == pytest.approx(500, abs=2)
    train, test = audio.split_by_group(test_size=0.34, seed=1)
    assert not set(train.groups) & set(test.groups) and len(train) + len(test) == 12
    assert len(set(test.groups)) == 1
    short = AudioSet.read(digits, sample_rate=16_000, duration=0.4)
    assert short.waveforms.shape == (12, 6_400) and "cut at the end" in short.rule
    # 0.3–0.35 s padded, 0.4 s kept as it is, 0.45–0.55 s cut
    assert (
        short.rule.startswith("0.4 s at 16000 Hz")
        and "4 of 12 padded" in short.rule
        and "6 cut" in short.rule
    )


def test_class_folders_give_the_labels(tmp_path):
    for name in ("yes", "no"):
        (tmp_path / name).mkdir()
        for i in range(3):
            soundfile.write(tmp_path / name / f"take{i}.flac", _tone(200 + 100 * i, 0.2, 8_000), 8_000)
    audio = AudioSet.read(tmp_path)
    assert audio.class_names == ["no", "yes"] and audio.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert audio.groups is None  # no speaker in the names
    with pytest.raises(DataError, match="no speakers or groups"):
        audio.split_by_group()


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("stereo.wav", lambda p: soundfile.write(p, np.zeros((800, 2), np.float32), 8_000), "2 channels"),
        ("empty.wav", lambda p: soundfile.write(p, np.zeros(0, np.float32), 8_000), "empty recording"),
        ("broken.wav", lambda p: p.write_bytes(b"RIFF\x00\x00not audio at all"), "not a readable audio file"),
        ("long.wav", lambda p: soundfile.write(p, np.zeros(601 * 100, np.float32), 100), "10 minutes long"),
    ],
)
def test_a_bad_file_is_refused_in_one_line_naming_it(tmp_path, digits, name, write, message):
    write(digits / name)
    with pytest.raises(DataError, match=message) as caught:
        AudioSet.read(digits)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_bad_sources_and_options_are_refused(tmp_path, digits):
    with pytest.raises(DataError, match="file not found"):
        AudioSet.read(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no \.wav, \.flac, \.ogg file"):
        AudioSet.read(_empty(tmp_path))
    with pytest.raises(DataError, match="positive rate"):
        AudioSet.read(digits, sample_rate=0)
    with pytest.raises(DataError, match="duration"):
        AudioSet.read(digits, duration=0)


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


@pytest.mark.skipif(not FSDD.is_dir(), reason="the shared FSDD folder is not here")
def test_the_shared_fsdd_reads_as_four_speakers_of_ten_digits():
    audio = AudioSet.read(FSDD)
    assert len(audio) == 2000 and audio.sample_rate == 8_000
    assert audio.class_names == [str(d) for d in range(10)]
    assert sorted(set(audio.groups)) == ["george", "jackson", "lucas", "nicolas"]
    assert np.bincount(audio.labels).tolist() == [200] * 10
    assert np.abs(audio.waveforms).max() <= 1.0
    train, test = audio.split_by_group(seed=0)
    assert len(set(test.groups)) == 1 and (len(train), len(test)) == (1500, 500)


# ------------------------------------------------------------------------------ log-mel and Griffin–Lim
def test_mel_filters_are_unit_area_triangles_centred_on_the_mel_scale():
    from simulacra.transform.audio import hz_to_mel, mel_filterbank, mel_to_hz

    weights = mel_filterbank(8_000, 256, 40)
    assert weights.shape == (40, 129) and weights.dtype == np.float32 and (weights >= 0).all()
    bin_hz = 4_000 / 128
    areas = weights.sum(axis=1) * bin_hz
    assert np.allclose(areas[10:], 1.0, atol=0.08)  # the narrow low filters see few bins
    peaks = weights.argmax(axis=1) * bin_hz
    centres = mel_to_hz(np.linspace(0, hz_to_mel(4_000), 42))[1:-1]
    assert np.abs(peaks - centres).max() <= bin_hz  # each peaks at its centre, to a bin
    assert mel_to_hz(hz_to_mel(1234.5)) == pytest.approx(1234.5)
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(8_000, 256, 40, fmax=5_000)


def test_griffin_lim_recovers_a_waveform_from_its_log_mel_spectrogram():
    from simulacra.transform.audio import LogMel, spectral_convergence

    rate = 8_000
    t = np.arange(int(0.5 * rate)) / rate
    pitch = 150 + 100 * t  # a rising voice-like tone with harmonics
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    x = sum(0.3 / k * np.sin(k * phase) for k in (1, 2, 3, 4)).astype(np.float32)[None]  # (1, 4000)
    logmel = LogMel(rate, n_fft=256, n_mels=64)
    spec = logmel(x)
    assert spec.shape == (1, 64, logmel.frames(4000)) and spec.dtype.is_floating_point
    recovered = logmel.invert(spec, 4000)
    assert recovered.shape == (1, 4000) and recovered.dtype == np.float32
    no_phase = logmel.invert(spec, 4000, iterations=0)  # the magnitudes with zero phase
    fewer = logmel.invert(spec, 4000, iterations=8)
    good, bad = spectral_convergence(x[0], recovered[0]), spectral_convergence(x[0], no_phase[0])
    # measured: 0.93 with zero phase, 0.21 after 8 iterations, 0.13 after 32
    assert good < 0.2 and bad > 0.8 and good < spectral_convergence(x[0], fewer[0]), good
    # the log-mel spectrogram of what came back is close to the one asked for (0.17 nats on average)
    assert float((logmel(recovered) - spec).abs().mean()) < 0.3
    assert np.array_equal(recovered, logmel.invert(spec, 4000))  # deterministic


def test_a_table_with_a_path_column_lists_the_recordings(digits, tmp_path):
    import pandas as pd

    rows = [
        {"file": f"digits/{d}_{s}_0.wav", "digit": f"d{d}", "speaker": s}
        for d in (0, 1)
        for s in ("ann", "bob")
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "list.csv", index=False)
    audio = AudioSet.read_table(tmp_path / "list.csv", "file", label_column="digit", group_column="speaker")
    assert len(audio) == 4 and audio.class_names == ["d0", "d1"] and audio.labels.tolist() == [0, 0, 1, 1]
    assert audio.groups.tolist() == ["ann", "bob", "ann", "bob"] and audio.sample_rate == 8_000
    plain = AudioSet.read_table(tmp_path / "list.csv", "file")
    assert plain.labels is None and plain.groups is None
    with pytest.raises(DataError, match="no column 'path'"):
        AudioSet.read_table(tmp_path / "list.csv", "path")
    pd.DataFrame([*rows, {"file": "digits/missing.wav", "digit": "d0", "speaker": "ann"}]).to_csv(
        tmp_path / "bad.csv", index=False
    )
    with pytest.raises(DataError, match=r"row 5: digits/missing\.wav: file not found"):
        AudioSet.read_table(tmp_path / "bad.csv", "file")


# ------------------------------------------------------------------------------ the metrics' classifier
def _tones(n_per_class: int, seed: int) -> AudioSet:
    """Three classes of noisy tones (250, 500, 1000 Hz) of random phase and loudness, 0.25 s at 8 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(2000) / 8_000
    waves, labels = [], []
    for k, hz in enumerate((250, 500, 1000)):
        for _ in range(n_per_class):
            wave = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
            waves.append(wave + 0.05 * rng.normal(size=t.size))
            labels.append(k)
    return AudioSet(np.array(waves, np.float32), 8_000, np.array(labels), ["low", "mid", "high"])


def test_the_audio_classifier_learns_tones_reproducibly_and_tstr_uses_it():
    from simulacra.evaluate.audio import accuracy, features, predict, train_classifier, tstr

    train, test = _tones(20, seed=0), _tones(10, seed=1)
    model = train_classifier(train, seed=3, epochs=15, batch_size=16)
    assert accuracy(model, test) >= 0.9
    again = train_classifier(train, seed=3, epochs=15, batch_size=16)
    assert np.array_equal(features(model, test), features(again, test))  # the seed fixes the weights
    assert features(model, test).shape == (30, 128)
    shuffled = AudioSet(
        train.waveforms, 8_000, np.random.default_rng(0).permutation(train.labels), train.class_names
    )
    scores = tstr(train, shuffled, test, seed=0)  # "synthetic" recordings with the wrong labels
    assert scores["trtr_accuracy"] >= 0.9 and scores["tstr_accuracy"] < scores["trtr_accuracy"] - 0.3
    with pytest.raises(DataError, match="labelled"):
        train_classifier(AudioSet(train.waveforms, 8_000))
    with pytest.raises(DataError, match="16000 Hz"):
        predict(model, AudioSet(test.waveforms, 16_000))


def test_the_temperature_tradeoff_scores_each_temperatures_draw():
    from simulacra.evaluate.audio import temperature_tradeoff

    train, test = _tones(20, seed=0), _tones(10, seed=1)
    fresh = _tones(10, seed=2)
    wrong = AudioSet(fresh.waveforms, 8_000, (fresh.labels + 1) % 3, fresh.class_names)  # labels moved
    drawn = {0.5: fresh, 1.5: wrong}
    points = temperature_tradeoff(train, drawn.__getitem__, [0.5, 1.5], test, seed=0, classifier_epochs=15)
    assert [p["temperature"] for p in points] == [0.5, 1.5]
    good, bad = points
    assert good["label_agreement"] >= 0.9 and bad["label_agreement"] <= 0.1
    assert good["tstr_accuracy"] >= 0.9 and bad["tstr_accuracy"] <= 0.1
    assert good["fad"] == pytest.approx(bad["fad"]) and 0 <= good["recall"] <= 1  # same sounds, same FAD
    with pytest.raises(DataError, match="labelled"):
        temperature_tradeoff(train, lambda tau: AudioSet(fresh.waveforms, 8_000), [1.0], seed=0)


# ---------------------------------------------------------------------- the bundled set, models, metrics
@pytest.fixture(scope="module")
def fsdd():
    from simulacra import datasets

    return datasets.load("fsdd")


def test_the_bundled_fsdd_subset_holds_out_one_speaker_and_round_trips_through_npz_and_wav(fsdd, tmp_path):
    train, test = fsdd
    assert (len(train), len(test)) == (300, 100) and train.sample_rate == test.sample_rate == 8_000
    assert set(test.groups) == {"lucas"} and "lucas" not in set(train.groups)
    assert train.waveforms.shape[1] == test.waveforms.shape[1] == 5_600  # 0.7 s
    assert np.bincount(train.labels).tolist() == [30] * 10
    archive = AudioSet.read(test.to_npz(tmp_path / "test.npz"))
    assert np.array_equal(archive.waveforms, test.waveforms) and archive.class_names == test.class_names
    folder = AudioSet.read(test.subset(np.arange(20)).to_folder(tmp_path / "wavs"))
    assert soundfile.info(next((tmp_path / "wavs" / "0").glob("*.wav"))).subtype == "PCM_16"
    assert folder.class_names == test.class_names[: len(folder.class_names)]
    assert set(folder.groups) == {"lucas"}  # FSDD names: the speaker comes back too
    assert (
        np.abs(folder.waveforms - test.subset(np.argsort(test.labels[:20], kind="stable")).waveforms).max()
        < 1e-4
    )


@pytest.mark.parametrize("name", ["specgan", "specvae"])
def test_spectrogram_models_learn_reproduce_honour_the_label_and_save(name, fsdd, tmp_path):
    from simulacra.synthesizers import BaseSynthesizer, make

    train = fsdd[0].subset(np.arange(0, 300, 5))  # 60 recordings, every digit
    params = {"epochs": 3, "batch_size": 16, "griffin_lim_iterations": 4, "seed": 0}
    model = make(name, **params).fit(train)
    other = make(name, **params).fit(train)
    losses = [h["loss_g" if name == "specgan" else "reconstruction"] for h in model.history_]
    assert len(losses) == 3 and all(np.isfinite(losses))
    if name == "specvae":
        assert losses[-1] < losses[0]  # the reconstruction loss falls
    assert model.history_ == other.history_  # the same seed, the same training
    drawn = model.sample(20, seed=4)
    assert drawn.waveforms.shape == (20, 5_600) and drawn.sample_rate == 8_000
    assert np.array_equal(drawn.waveforms, model.sample(20, seed=4).waveforms)
    assert np.bincount(drawn.labels).tolist() == [2] * 10  # class-balanced
    assert np.abs(drawn.waveforms).max() <= 1.0 and drawn.waveforms.std() > 0
    sevens = model.sample(5, conditions={"label": "7"}, seed=1)
    assert [sevens.class_names[k] for k in sevens.labels] == ["7"] * 5
    model.save(tmp_path / "m")
    again = BaseSynthesizer.load(tmp_path / "m")
    assert np.array_equal(again.sample(6, seed=2).waveforms, model.sample(6, seed=2).waveforms)
    # what the representation keeps of held-out recordings, no generator involved
    held = fsdd[1].subset(np.arange(0, 100, 10))
    back = model.resynthesize(held)
    assert back.waveforms.shape == held.waveforms.shape and np.array_equal(back.labels, held.labels)
    from simulacra.evaluate.audio import augmentation_strength

    kept = augmentation_strength(held.waveforms, back.waveforms, held.sample_rate)
    noise = np.random.default_rng(0).normal(0, 0.05, held.waveforms.shape).astype(np.float32)
    assert kept["stoi"] > 0.4 > augmentation_strength(held.waveforms, noise, held.sample_rate)["stoi"]
    with pytest.raises(DataError, match="read them at that rate"):
        model.resynthesize(AudioSet(held.waveforms[:, :4000], 8_000))


def test_specvae_draws_each_digit_from_the_gaussian_of_its_training_encodings(fsdd):
    from simulacra.synthesizers import make

    train = fsdd[0].subset(np.arange(0, 300, 5))  # 60 recordings, 6 per digit
    params = {"epochs": 2, "batch_size": 16, "griffin_lim_iterations": 4, "seed": 0}
    fitted, standard = (
        make("specvae", **params).fit(train),
        make("specvae", prior="standard", **params).fit(train),
    )
    assert standard.latent_mean_ is None and fitted.get_params()["prior"] == "fitted"
    d = int(fitted.latent_dim)
    assert fitted.latent_mean_.shape == (10, d) and fitted.latent_chol_.shape == (10, d, d)
    # digit 3's Gaussian is the moments of its training recordings' encodings (mean μ; Cov μ + mean σ²)
    pixels = fitted._to_pixels(torch.cat([fitted._front()(torch.from_numpy(train.waveforms))]))
    threes = torch.from_numpy(train.labels == 3)
    with torch.no_grad():
        mu, logvar = fitted.encoder_.eval()(pixels[threes], fitted._onehot(torch.full((6,), 3)))
    cov = torch.cov(mu.T) + torch.diag(logvar.exp().mean(0))
    chol = torch.from_numpy(fitted.latent_chol_[3])
    torch.testing.assert_close(torch.from_numpy(fitted.latent_mean_[3]), mu.mean(0), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(chol @ chol.T, cov, atol=1e-4, rtol=1e-4)
    assert np.abs(fitted.latent_mean_ - fitted.latent_mean_.mean(0)).max() > 0.01  # the digits differ
    # the same training (one seed), drawn from another latent distribution
    assert fitted.history_ == standard.history_
    assert not np.array_equal(fitted.sample(10, seed=1).waveforms, standard.sample(10, seed=1).waveforms)


def test_the_audio_metrics_place_real_recordings_near_and_noise_far(fsdd, tmp_path):
    from simulacra.evaluate.audio import evaluate_audio
    from simulacra.report.audio import AudioReport

    train, test = fsdd
    ev = evaluate_audio(train, test, test, seed=0, classifier_epochs=8)
    refs = ev.details["references"]
    assert ev.metrics["fidelity"]["fad"] == pytest.approx(refs["real test"]["fad"])  # the same recordings
    assert refs["noise"]["fad"] > 3 * refs["real test"]["fad"]
    assert refs["noise"]["precision"] < 0.1
    assert refs["noise"]["coverage"] < refs["real test"]["coverage"]
    assert refs["noise"]["density"] < refs["real test"]["density"]
    per_class = ev.details["per_class"]  # each digit's test recordings against its training ones
    assert sorted(per_class) == sorted(train.class_names)
    assert all(0 <= v["coverage"] <= 1 and v["density"] >= 0 for v in per_class.values())
    assert ev.metrics["utility"]["label_agreement"] == pytest.approx(ev.metrics["utility"]["trtr_accuracy"])
    assert 0.5 < ev.metrics["privacy"]["nn_embedding_ratio"] < 2.0  # the test set copies nothing
    assert ev.metrics["fidelity"]["voiced_duration_similarity"] > 0.5
    report = AudioReport(ev, train, test, title="t")
    html = report.render()
    assert html.count("<audio controls") == 2 * 10 * 2 + 2 * 6 and "data:audio/wav;base64," in html
    assert "https://" not in html  # self-contained
    per_class_table = html.split('id="per-class"')[1].split("</table>")[0]
    assert per_class_table.count("<tr><td>") == len(train.class_names)
    if shutil.which("chromium"):
        from helpers import chromium_plots

        expected, rendered, shot = chromium_plots(report.to_html(tmp_path / "report.html"), tmp_path)
        assert rendered == expected == 2 * 10 * 2 + 2 * 6 and shot > 50_000


# ---------------------------------------------------------------------- augmentation
def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


@pytest.fixture
def bursts():
    """Six 1 s recordings at 8 kHz: a 440 or 880 Hz tone from 0.3 to 0.7 s, silence around it."""
    rate, t = 8_000, np.arange(8_000) / 8_000
    waves = []
    for hz in (440, 880) * 3:
        x = 0.5 * np.sin(2 * np.pi * hz * t)
        x[(t < 0.3) | (t >= 0.7)] = 0
        waves.append(x)
    return AudioSet(
        np.array(waves, np.float32), rate, np.array([0, 1] * 3), ["a4", "a5"], np.array(["s"] * 6)
    )


def _run(ops: str, audio: AudioSet, seed: int = 0, copies: int = 1) -> AudioSet:
    import yaml

    from simulacra.augment.audio import AudioAugmenter, augment_audio

    return augment_audio(audio, AudioAugmenter(yaml.safe_load(ops)), copies=copies, seed=seed)


def _onset(x: np.ndarray) -> int:
    return int(np.flatnonzero(np.abs(x) > 0.05)[0])


def test_every_audio_augmentation_changes_what_it_claims(bursts):
    rate, x = 8_000, bursts.waveforms
    rms = lambda a: np.sqrt((a.astype(np.float64) ** 2).mean(1))  # noqa: E731
    gained = _run("[{op: gain, min_db: 6, max_db: 6}]", bursts).waveforms
    assert np.allclose(rms(gained) / rms(x), 10 ** (6 / 20), rtol=1e-3)
    shifted = _run("[{op: shift, max_seconds: 0.1}]", bursts).waveforms
    moves = [_onset(a) - _onset(b) for a, b in zip(shifted, x, strict=True)]
    assert all(abs(m) <= 800 for m in moves) and any(m != 0 for m in moves)
    noisy = _run("[{op: noise, min_snr_db: 20, max_snr_db: 20}]", bursts).waveforms
    snr = 10 * np.log10((x.astype(np.float64) ** 2).sum(1) / ((noisy - x) ** 2).sum(1))
    assert np.allclose(snr, 20, atol=1.0)
    fast = _run("[{op: speed, min_rate: 1.25, max_rate: 1.25}]", bursts).waveforms
    assert _peak_hz(fast[0], rate) == pytest.approx(440 * 1.25, rel=0.02)  # pitch up with the tempo
    assert _onset(fast[0]) == pytest.approx(0.3 * rate / 1.25, abs=20)
    up = _run("[{op: pitch, min_semitones: 12, max_semitones: 12}]", bursts).waveforms
    assert _peak_hz(up[0], rate) == pytest.approx(880, rel=0.03) and up.shape == x.shape
    slow = _run("[{op: time_stretch, min_rate: 0.8, max_rate: 0.8}]", bursts).waveforms
    assert _peak_hz(slow[0], rate) == pytest.approx(440, rel=0.02)  # pitch kept
    voiced = lambda a: int((np.abs(a) > 0.05).sum())  # noqa: E731
    assert voiced(slow[0]) > 1.15 * voiced(x[0])  # the tone lasts longer
    masked = _run("[{op: time_mask, max_share: 0.2}]", bursts, seed=3).waveforms
    assert (np.abs(masked) <= np.abs(x) + 1e-6).all() and voiced(masked) < voiced(x)
    noise = AudioSet(np.random.default_rng(0).normal(0, 0.1, (4, 8_000)).astype(np.float32), rate)
    notched = _run("[{op: frequency_mask, max_share: 0.3}]", noise, seed=1).waveforms
    before = np.abs(np.fft.rfft(noise.waveforms, axis=1)) ** 2
    after = np.abs(np.fft.rfft(notched, axis=1)) ** 2
    removed = (after < 0.01 * before).mean(1)  # the share of frequencies (nearly) silenced
    assert removed.max() > 0.05 and (removed < 0.3 + 0.05).all()
    mixed = _run("[{op: mix, min_snr_db: 10, max_snr_db: 10}]", bursts).waveforms
    under = mixed - x  # another recording of the set, 10 dB below
    assert np.allclose(rms(under), rms(x) / 10 ** (10 / 20), rtol=1e-3)
    best = np.abs(np.corrcoef(np.concatenate([under, x]))[: len(x), len(x) :]).max(1)
    assert (best > 0.999).all()


def test_audio_augmentation_is_seeded_keeps_labels_and_refuses_bad_steps(bursts):
    from simulacra.augment.audio import AudioAugmenter
    from simulacra.errors import ConfigError

    ops = "[{op: pitch}, {op: noise, p: 0.5}, {op: shift}]"
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - what the augmentation must leave alone
    a, b = _run(ops, bursts, seed=5, copies=2), _run(ops, bursts, seed=5, copies=2)
    assert np.array_equal(a.waveforms, b.waveforms) and not np.array_equal(
        a.waveforms, _run(ops, bursts, seed=6, copies=2).waveforms
    )
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002 - left as it was
    assert len(a) == 12 and a.labels.tolist() == bursts.labels.tolist() * 2 and a.class_names == ["a4", "a5"]
    assert np.abs(a.waveforms).max() <= 1.0
    with pytest.raises(ConfigError, match="give op: one of"):
        AudioAugmenter([{"op": "reverb"}])
    with pytest.raises(ConfigError, match=r"min_db 6\.0 is above max_db 0\.0; give min_db ≤ max_db"):
        AudioAugmenter([{"op": "gain", "min_db": 6, "max_db": 0}])


def test_a_specgan_saved_before_the_auxiliary_classifier_still_loads(fsdd, tmp_path):
    """Models saved without ``class_weight`` were trained without the auxiliary classifier: loading
    one fills in 0 (``saved_defaults``), not today's default, and it draws as it did."""
    import json

    from simulacra.synthesizers import BaseSynthesizer, make

    train = fsdd[0].subset(np.arange(0, 300, 10))
    model = make("specgan", epochs=1, batch_size=16, griffin_lim_iterations=2, class_weight=0.0, seed=0)
    model.fit(train).save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["params"]["class_weight"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    again = BaseSynthesizer.load(tmp_path / "old")
    assert again.get_params()["class_weight"] == 0.0 and make("specgan").get_params()["class_weight"] == 1.0
    assert np.array_equal(again.sample(4, seed=1).waveforms, model.sample(4, seed=1).waveforms)
