"""The measured tables of docs/privacy.md, from ``bench.json`` files (numbers are never typed by hand).

    python benchmarks/privacy_table.py attacks benchmarks/results/privacy-adult-eps1.json ...
    python benchmarks/privacy_table.py dp benchmarks/results/privacy-adult-eps1.json ...

``attacks``: one row per model and reference row — membership inference (DOMIAS AUC with its interval,
TPR at 1 % FPR, DCR AUC) and each re-identification risk with its interval, the attacks made and
whether the attack beat random guessing (``*``: it did not). ``dp``: the differentially private rows
with ε spent, fit seconds and quality.
"""

from __future__ import annotations

import json
import sys


def _ci(r: dict) -> str:
    lo, hi = r["ci"]
    mark = "" if r.get("beats_baseline", True) else "*"
    return f"{r['risk']:.3f}{mark} [{lo:.3f}, {hi:.3f}] ({r.get('attacks', '–')})"


def _name(row: dict) -> str:
    eps = (row.get("params") or {}).get("epsilon")
    return f"`{row['model']}`" + (f", ε = {eps:g}" if eps is not None else "")


def attacks(paths: list[str]) -> None:
    print(
        "| model | MIA AUC (DOMIAS) | TPR @ 1 % FPR | MIA AUC (DCR) | singling out, univariate | "
        "singling out, multivariate | linkability | inference (worst column) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    refs: dict[str, dict] = {}
    for path in paths:
        bench = json.loads(open(path).read())
        for row in bench["results"]:
            a = row["attacks"]
            lo, hi = a["domias_auc_ci"]
            worst = a["inference_worst"]
            print(
                f"| {_name(row)} | {row['membership_auc']:.3f} [{lo:.3f}, {hi:.3f}] | "
                f"{row['membership_tpr_at_1pct_fpr']:.3f} | {row['dcr_membership_auc']:.3f} | "
                f"{_ci(a['singling_out_univariate'])} | {_ci(a['singling_out_multivariate'])} | "
                f"{_ci(a['linkability'])} | {_ci(worst)} (`{worst['column']}`) |"
            )
            refs.update(row.get("references") or {})
    for name, ref in refs.items():
        print(
            f"| reference: {name} | {ref.get('membership_auc', float('nan')):.3f} | "
            f"{ref.get('membership_tpr_at_1pct_fpr', float('nan')):.3f} | "
            f"{ref.get('dcr_membership_auc', float('nan')):.3f} | – | "
            f"{ref.get('singling_out_risk', float('nan')):.3f} (stronger of the two) | "
            f"{ref.get('linkability_risk', float('nan')):.3f} | {ref.get('inference_risk', float('nan')):.3f} |"
        )


def dp(paths: list[str]) -> None:
    print(
        "| model | ε spent / asked | fit s | shapes | trends | detection (XGB) | TSTR AUC | TRTR AUC | MIA AUC (DOMIAS) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        for row in json.loads(open(path).read())["results"]:
            spent = row.get("epsilon")
            if spent is None:
                continue
            print(
                f"| {_name(row)} | {spent:.2f} / {row['params']['epsilon']:g} | {row['fit_s']:.1f} | "
                f"{row['column_shapes']:.3f} | {row['column_pair_trends']:.3f} | {row['detection_xgb']:.3f} | "
                f"{row['tstr_roc_auc']:.3f} | {row['trtr_roc_auc']:.3f} | {row['membership_auc']:.3f} |"
            )


if __name__ == "__main__":
    {"attacks": attacks, "dp": dp}[sys.argv[1]](sys.argv[2:])
