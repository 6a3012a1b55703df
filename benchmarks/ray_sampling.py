"""Ray sampling speed-up (issue 16): rows/s of 1 and 2 local Ray workers writing the same parts.

Usage: ``python benchmarks/ray_sampling.py MODEL_DIR ROWS PART_ROWS`` (README: 8,000,000 rows in parts
of 1,000,000 from ``simulacra fit adult -o MODEL_DIR``). A warm-up run starts both worker processes
first, so the times are the sampling's, not Ray's start-up; the printed SHA-256 of the parts must be
the same for both worker counts. Run it alone: two torch processes on 2 cores slow each other down.
"""

import hashlib
import sys
import tempfile
import time
from pathlib import Path

from simulacra.scale import SampleOptions
from simulacra.scale.distributed import RaySession, sample_parts

model, rows, part = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
with RaySession(2):
    with tempfile.TemporaryDirectory() as d:  # warm-up: both worker processes import simulacra
        sample_parts(model, 2 * part, d, SampleOptions(seed=9), part_rows=part, workers=2)
    for k in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            sample_parts(model, rows, d, SampleOptions(seed=0), part_rows=part, workers=k)
            dt = time.perf_counter() - t
            files = b"".join(p.read_bytes() for p in sorted(Path(d).glob("*.parquet")))
            digest = hashlib.sha256(files).hexdigest()[:16]
            out[k] = (dt, rows / dt, digest)
            print(f"workers={k}: {dt:.1f} s, {rows / dt:,.0f} rows/s, files sha256 {digest}", flush=True)
print(f"speed-up {out[2][1] / out[1][1]:.2f}x; identical files: {out[1][2] == out[2][2]}")
