"""The report of a mixing/balancing experiment: ``results.csv`` rendered as curves, tables and verdicts.

``report.html`` holds, inline as base64 PNG: for every metric, one panel per downstream model with the
metric against the synthetic ratio, one line per real fraction (mean over repeats, error bars ± one
standard deviation) and each fraction's "synthetic rows alone" score as a hollow marker at the right;
the balancing comparison as grouped bars with error bars; the plain-language verdicts; and every
number in a table. No script or style is fetched from the network.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulacra.experiments.mix import METRIC_NAMES, MixResult, percent
from simulacra.report.html import WrittenReport, _png, _templates


def _curves(summary: pd.DataFrame, metric: str, downstream: list[str]) -> str:
    fig = Figure(figsize=(4.6 * len(downstream), 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(downstream), squeeze=False)[0])
    mixed = summary[(summary.experiment == "mixing") & (summary.metric == metric)]
    for ax, d in zip(axes, downstream, strict=True):
        part = mixed[mixed.downstream == d]
        ratios = sorted(part[part.variant != "synthetic"].ratio.unique())
        right = (max(ratios) if ratios else 1.0) * 1.15 + 0.05
        several = part.method.nunique() > 1
        for i, ((method, fraction), rows) in enumerate(part.groupby(["method", "fraction"], sort=True)):
            color = f"C{i % 10}"
            line = rows[rows.variant != "synthetic"].sort_values("ratio")
            ax.errorbar(
                line.ratio,
                line["mean"],
                yerr=line["sd"],
                marker="o",
                ms=4,
                capsize=3,
                color=color,
                label=(f"{method}, " if several else "")
                + f"{percent(fraction)} real ({int(rows.n_real.iloc[0]):,})",
            )
            alone = rows[rows.variant == "synthetic"]
            if len(alone):
                ax.errorbar(
                    [right], alone["mean"], yerr=alone["sd"], marker="o", mfc="none", capsize=3, color=color
                )
        ax.set_xticks([*ratios, right], [f"{r:g}" for r in ratios] + ["synthetic\nonly"], fontsize=8)
        ax.set_xlabel("synthetic rows per real row")
        ax.set_ylabel(METRIC_NAMES.get(metric, metric))
        ax.set_title(f"{d}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def _bars(summary: pd.DataFrame, metrics: list[str], downstream: str) -> str:
    part = summary[(summary.experiment == "balancing") & (summary.downstream == downstream)]
    methods = list(dict.fromkeys(part.method))
    fig = Figure(figsize=(1.6 * len(metrics) + 3, 3.2))
    ax = fig.subplots()
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(metrics))
    for i, m in enumerate(methods):
        rows = part[part.method == m].set_index("metric").reindex(metrics)
        ax.bar(
            x + (i - (len(methods) - 1) / 2) * width, rows["mean"], width, yerr=rows["sd"], capsize=2, label=m
        )
    ax.set_xticks(x, [METRIC_NAMES.get(m, m) for m in metrics], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(f"class balancing, {downstream}", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


class MixReport(WrittenReport):
    """A :class:`~simulacra.experiments.mix.MixResult` (and, optionally, balancing rows) as
    ``report.html`` and ``metrics.json``.

    Parameters
    ----------
    result : MixResult
        The mixing experiment; ``None`` for a balancing comparison alone.
    balancing : DataFrame, optional
        Tidy rows of :func:`~simulacra.experiments.balance.balancing_comparison`.
    title : str
        The page title.
    info : dict
        Run facts shown at the top (data, model, target, seconds, …).
    """

    def __init__(
        self,
        result: MixResult | None,
        balancing: pd.DataFrame | None = None,
        *,
        title: str = "simulacra: does synthetic data help?",
        info: dict[str, Any] | None = None,
    ) -> None:
        self.result, self.balancing, self.title, self.info = result, balancing, title, dict(info or {})
        frames = [f for f in (result.results if result else None, balancing) if f is not None and len(f)]
        self.results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(self.results):
            self.summary = MixResult(self.results, "", "", "").summary()
        else:
            self.summary = pd.DataFrame()

    def verdicts(self) -> dict[str, list[str]]:
        """Verdict sentences per downstream model (mixing experiment only)."""
        if self.result is None or not len(self.result.results):
            return {}
        return {d: self.result.verdicts(d) for d in self.result.results.downstream.unique()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info,
            "verdicts": self.verdicts(),
            "summary": self.summary.replace({np.nan: None}).to_dict(orient="records"),
        }

    def render(self) -> str:
        s = self.summary
        plots, bars, tables = [], [], []
        if len(s):
            downstream = list(dict.fromkeys(s.downstream))
            for experiment in ("mixing", "balancing"):
                part = s[s.experiment == experiment]
                if not len(part):
                    continue
                metrics = list(dict.fromkeys(part.metric))
                if experiment == "mixing":
                    plots = [
                        {"metric": METRIC_NAMES.get(m, m), "png": _curves(s, m, downstream)} for m in metrics
                    ]
                else:
                    bars = [{"downstream": d, "png": _bars(s, metrics, d)} for d in downstream]
                table = part.assign(
                    cell=[f"{m:.4f} ± {sd:.4f}" for m, sd in zip(part["mean"], part["sd"], strict=True)]
                )
                wide = table.pivot_table(
                    index=["downstream", "fraction", "n_real", "method", "variant", "ratio"],
                    columns="metric",
                    values="cell",
                    aggfunc="first",
                    dropna=False,
                    sort=False,
                ).reset_index()
                wide = wide.dropna(subset=metrics, how="all")
                wide["fraction"] = wide["fraction"].map(percent)
                wide["ratio"] = wide["ratio"].map(lambda r: "–" if pd.isna(r) else f"{r:g}")
                tables.append(
                    {
                        "experiment": experiment,
                        "columns": [*wide.columns[:6], *(METRIC_NAMES.get(m, m) for m in metrics)],
                        "rows": wide.astype(str).to_numpy().tolist(),
                    }
                )
        return (
            _templates()
            .get_template("mix_report.html.j2")
            .render(
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                verdicts=self.verdicts(),
                plots=plots,
                bars=bars,
                tables=tables,
            )
        )
