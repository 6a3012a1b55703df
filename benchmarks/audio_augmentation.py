"""Does augmenting the real training recordings lower held-out-speaker TRTR? (issue 32)

Leave one speaker out: for each speaker of a labelled recording folder (the FSDD's
``{digit}_{speaker}_{index}.wav`` names), the metrics' classifier (:mod:`simulacra.evaluate.audio`)
is trained on the other speakers' recordings alone and on them with one augmented copy of each
(:data:`STEPS`, the pipeline of ``docs/audio.md``), same recipe and seed, and both are scored on the
held-out speaker's recordings (:func:`~simulacra.evaluate.audio.augmentation_effect`). The copies'
strength against their originals is their mean STOI and SNR. The table goes to
``benchmarks/results/audio_augmentation.md`` (and ``.json``).

Run alone: ``python benchmarks/audio_augmentation.py ../shared/data/speech/fsdd`` (about five minutes
per speaker on 2 cores; ``--seed`` seeds the copies and both classifiers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from simulacra.augment.audio import AudioAugmenter, augment_audio
from simulacra.errors import SimulacraError
from simulacra.evaluate.audio import augmentation_effect, augmentation_strength
from simulacra.io import AudioSet

#: every op of simulacra augment on recordings, at the ranges docs/audio.md shows
STEPS = [
    {"op": "gain", "min_db": -6, "max_db": 6},
    {"op": "shift", "max_seconds": 0.1},
    {"op": "noise", "min_snr_db": 10, "max_snr_db": 30, "p": 0.5},
    {"op": "speed", "min_rate": 0.9, "max_rate": 1.1},
    {"op": "pitch", "min_semitones": -2, "max_semitones": 2},
    {"op": "time_stretch", "min_rate": 0.9, "max_rate": 1.1},
    {"op": "time_mask", "max_share": 0.1, "masks": 1},
    {"op": "frequency_mask", "max_share": 0.15, "masks": 1},
    {"op": "mix", "min_snr_db": 5, "max_snr_db": 15},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="labelled recordings whose file names give their speakers (FSDD)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        audio = AudioSet.read(args.folder)
    except SimulacraError as e:  # one line and exit 2, as the CLI answers bad input
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if audio.groups is None or audio.labels is None:
        print("error: the recordings name no speakers or labels; give FSDD-named files", file=sys.stderr)
        sys.exit(2)
    groups, augmenter = np.asarray(audio.groups), AudioAugmenter(STEPS)
    rows = []
    for speaker in sorted(set(groups)):
        start = time.perf_counter()
        train = audio.subset(np.flatnonzero(groups != speaker))
        test = audio.subset(np.flatnonzero(groups == speaker))
        copies = augment_audio(train, augmenter, copies=1, seed=args.seed)
        strength = augmentation_strength(train.waveforms, copies.waveforms, train.sample_rate)
        effect = augmentation_effect(train, copies, test, seed=args.seed)
        rows.append(
            {"held_out": speaker, "train": len(train), "test": len(test), "seed": args.seed}
            | effect
            | strength
            | {"seconds": round(time.perf_counter() - start, 1)}
        )
        print(rows[-1], flush=True)
    write(rows, Path(__file__).parent / "results")


def write(rows: list[dict], out: Path) -> None:
    """``audio_augmentation.json`` and ``.md``: one row per held-out speaker and their mean."""
    out.mkdir(exist_ok=True)
    (out / "audio_augmentation.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "| held-out speaker | training recordings | TRTR | TRTR with the copies | change | copies' STOI | copies' SNR dB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['held_out']} | {r['train']:,} | {r['accuracy']:.3f} | {r['augmented_accuracy']:.3f} "
            f"| {r['augmented_accuracy'] - r['accuracy']:+.3f} | {r['stoi']:.3f} | {r['snr_db']:.1f} |"
        )
    mean = {
        k: float(np.mean([r[k] for r in rows])) for k in ("accuracy", "augmented_accuracy", "stoi", "snr_db")
    }
    lines.append(
        f"| mean | – | {mean['accuracy']:.3f} | {mean['augmented_accuracy']:.3f} "
        f"| {mean['augmented_accuracy'] - mean['accuracy']:+.3f} | {mean['stoi']:.3f} | {mean['snr_db']:.1f} |"
    )
    (out / "audio_augmentation.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
