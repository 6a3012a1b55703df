"""Cross-check of simulacra's re-identification risks against the Anonymeter package on the same rows.

simulacra writes the three evaluators of Giomi et al. 2023 itself (``simulacra.evaluate.anonymity``)
because the package pins NumPy below 1.27. This script is not part of the package: it runs both on
Adult with three "synthetic" tables — a copy of training rows (a generator that memorises), real rows
the generator never saw (no leak), and the default model's rows — and prints the risks side by side.

Both attack every training row (32,561) against 8,000 control rows, the singling-out control rate
corrected for the sizes. Run it beside simulacra with the package installed without its pins::

    pip install --no-deps --target /tmp/anon anonymeter==1.1.0 polars numba llvmlite
    PYTHONPATH=/tmp/anon python benchmarks/anonymeter_crosscheck.py
    python benchmarks/anonymeter_crosscheck.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np


def main() -> None:
    from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator

    from simulacra.datasets import load
    from simulacra.evaluate.anonymity import reidentification_risks
    from simulacra.metadata import Metadata
    from simulacra.synthesizers import make

    warnings.simplefilter("ignore")
    train, test = load("adult")
    meta = Metadata.detect(train)
    order = np.random.default_rng(0).permutation(len(test))
    control, unseen = test.iloc[order[:8000]], test.iloc[order[8000:]]
    tables = {
        "copy of 10,000 training rows": train.sample(10_000, random_state=0),
        "8,281 unseen real rows": unseen,
        "mixture (default model)": make("mixture", verbose=False).fit(train, meta).sample(10_000, seed=0),
    }
    n = 1000
    secrets = ["income", "age", "occupation"]
    print("| synthetic rows | criterion | simulacra risk [95 % CI] | Anonymeter risk [95 % CI] |")
    print("|---|---|---|---|")
    for name, syn in tables.items():
        start = time.perf_counter()
        ours = reidentification_risks(train, syn, control, meta, n_attacks=n, seed=0)
        ours_s = time.perf_counter() - start
        ori = train.reset_index(drop=True)  # every training row, as ours: a subsample dilutes the risk
        syn_r, ctl = syn.reset_index(drop=True), control.reset_index(drop=True)
        start = time.perf_counter()
        theirs = {}
        for mode in ("univariate", "multivariate"):
            ev = SinglingOutEvaluator(ori=ori, syn=syn_r, control=ctl, n_attacks=n, seed=0)
            theirs[f"singling_out_{mode}"] = ev.evaluate(mode=mode).risk()
            # anonymeter 1.1.0 divides by the attacks asked for even when it found fewer queries;
            # ours divides by the queries found: print both counts so the two can be compared
            print(f"<!-- {name} {mode}: ours {ours[f'singling_out_{mode}']['queries']} queries of {n} -->")
        halves = tuple(ours["linkability"]["halves"])
        ev = LinkabilityEvaluator(ori=ori, syn=syn_r, control=ctl, n_attacks=n, aux_cols=halves)
        theirs["linkability"] = ev.evaluate(n_jobs=2).risk()
        for secret in secrets:
            aux = [c for c in meta.names if c != secret]
            regression = meta[secret].sdtype == "numerical"
            ev = InferenceEvaluator(
                ori=ori,
                syn=syn_r,
                control=ctl,
                aux_cols=aux,
                secret=secret,
                n_attacks=n,
                regression=regression,
            )
            theirs[f"inference {secret}"] = ev.evaluate(n_jobs=2).risk()
        theirs_s = time.perf_counter() - start
        for key, risk in theirs.items():
            mine = ours["inference"][key.split()[1]] if key.startswith("inference") else ours[key]
            print(
                f"| {name} | {key} | {mine['risk']:.3f} [{mine['ci'][0]:.3f}, {mine['ci'][1]:.3f}] "
                f"| {risk.value:.3f} [{risk.ci[0]:.3f}, {risk.ci[1]:.3f}] |"
            )
        print(f"| {name} | seconds | {ours_s:.1f} (every column as a secret) | {theirs_s:.1f} |")


if __name__ == "__main__":
    main()
