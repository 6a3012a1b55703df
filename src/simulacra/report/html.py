"""The :class:`Report`: an :class:`~simulacra.evaluate.Evaluation` plus the data needed to draw it.

``report.html`` holds, inline as base64 PNG: one real-vs-synthetic distribution plot per column
(overlaid histograms for numerical/datetime columns, paired bars of the most frequent categories
otherwise), and association heatmaps (Cramér's V for every pair of columns, numerical columns binned) for
the real data, the synthetic data and their absolute difference. A metric table gives each metric's
value with a one-line explanation. No script or style is fetched from the network.
"""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulacra.evaluate import Evaluation
from simulacra.evaluate._features import label_values, numeric_values
from simulacra.evaluate.fidelity import association_matrix
from simulacra.io import atomic_write_text
from simulacra.metadata import NOT_LEARNED, Metadata

REAL, SYNTH = "#1f77b4", "#ff7f0e"
MAX_ROWS_FOR_PLOTS = 20_000


def _png(fig, *, tight: bool = True) -> str:
    """The figure as base64 PNG text at 80 dpi; ``tight`` crops it to its artists (a second draw)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight" if tight else None)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _column_plot(column: str, sdtype: str, fmt: str | None, real: pd.Series, synth: pd.Series) -> str:
    fig = Figure(figsize=(4.2, 2.6))
    ax = fig.subplots()
    if sdtype in ("numerical", "datetime"):
        r = numeric_values(real, sdtype, fmt)
        s = numeric_values(synth, sdtype, fmt)
        r, s = r[np.isfinite(r)], s[np.isfinite(s)]
        both = np.concatenate([r, s])
        bins = np.histogram_bin_edges(both, bins=40) if both.size else np.linspace(0.0, 1.0, 11)
        for values, color, label in ((r, REAL, "real"), (s, SYNTH, "synthetic")):
            if values.size:  # one filled step artist per histogram, not a patch per bar
                density = np.histogram(values, bins=bins, density=True)[0]
                ax.stairs(density, bins, fill=True, alpha=0.55, color=color, label=label)
        if sdtype == "datetime":
            ax.set_xlabel("seconds since 1970")
    else:
        p = pd.Series(label_values(real)).value_counts(normalize=True)
        q = pd.Series(label_values(synth)).value_counts(normalize=True)
        top = p.index[:12]
        x = np.arange(len(top))
        ax.bar(x - 0.2, p.reindex(top).fillna(0).to_numpy(), 0.4, color=REAL, label="real")
        ax.bar(x + 0.2, q.reindex(top).fillna(0).to_numpy(), 0.4, color=SYNTH, label="synthetic")
        ax.set_xticks(x, [str(t)[:14] for t in top], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("share")
    ax.set_title(column, fontsize=9)
    if ax.get_legend_handles_labels()[0]:  # a column with no finite value has nothing to label
        ax.legend(fontsize=7)
    # fixed margins that fit the rotated category labels (cut to 14 characters): one draw, not two
    fig.subplots_adjust(
        left=0.14, right=0.97, top=0.9, bottom=0.17 if sdtype in ("numerical", "datetime") else 0.36
    )
    return _png(fig, tight=False)


def _heatmaps(real_assoc: pd.DataFrame, synth_assoc: pd.DataFrame) -> str:
    diff = (real_assoc - synth_assoc).abs()
    k = len(real_assoc)
    size = max(4.0, 0.28 * k + 2)
    fig = Figure(figsize=(3 * size, size))
    axes = fig.subplots(1, 3)
    for ax, mat, title in zip(
        axes, (real_assoc, synth_assoc, diff), ("real", "synthetic", "|difference|"), strict=True
    ):
        im = ax.imshow(mat.to_numpy(), vmin=0, vmax=1, cmap="viridis" if title != "|difference|" else "magma")
        ax.set_xticks(range(k), [str(c)[:16] for c in mat.columns], rotation=90, fontsize=7)
        ax.set_yticks(range(k), [str(c)[:16] for c in mat.index], fontsize=7)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("simulacra.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )


def preparation_html(preparation: dict[str, Any], title: str = "simulacra: data preparation") -> str:
    """A self-contained HTML page of a ``Preparation.to_dict()``: every change, in order, and the profile
    with its warnings (the same sections as in ``report.html``)."""
    return (
        _templates()
        .get_template("preparation.html.j2")
        .render(
            title=title, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), preparation=preparation
        )
    )


class WrittenReport:
    """Writing a report: ``to_dict()`` → ``metrics.json``, ``render()`` → ``report.html``, both atomic."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def render(self) -> str:
        raise NotImplementedError

    def to_json(self, path: str | os.PathLike[str] | None = None, *, force: bool = False) -> str:
        """``metrics.json`` text; written atomically to ``path`` when given (see :meth:`to_html`)."""
        text = json.dumps(
            self.to_dict(), indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)
        )
        if path is not None:
            atomic_write_text(path, text + "\n", force=force)
        return text

    def to_html(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write ``report.html`` (to a temporary name, then moved into place).

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``force`` is false.
        """
        path = Path(path)
        atomic_write_text(path, self.render(), force=force)
        return path


class Report(WrittenReport):
    """Evaluation results with their plots, written as ``metrics.json`` and ``report.html``.

    Parameters
    ----------
    evaluation: the :class:`~simulacra.evaluate.Evaluation` to show.
    real, synthetic: the real training rows and the synthetic rows (plots use ≤ 20,000 rows of each).
    metadata: the column metadata.
    title: the page title.
    info: extra run facts shown at the top and stored in ``metrics.json`` (model, rows, seconds, …).
    seed: seed for subsampling rows for the plots.
    preparation: ``Preparation.to_dict()`` of the data-preparation step, shown as the "Preparation"
        and "Data profile" sections.
    filtering: ``{"filters": [{filter, seen, dropped, why}, …], "before": Evaluation}`` of a filtered
        sample: what each filter dropped and the headline metrics before and after filtering.
    model_privacy: a differentially private model's ``privacy_`` (spent ε and δ, mechanism, which
        column domains were declared), shown in the "Privacy" section with the attacks' results.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        metadata: Metadata,
        *,
        title: str = "simulacra report",
        info: dict[str, Any] | None = None,
        seed: int = 0,
        preparation: dict[str, Any] | None = None,
        filtering: dict[str, Any] | None = None,
        model_privacy: dict[str, Any] | None = None,
    ) -> None:
        self.model_privacy = model_privacy
        self.evaluation = evaluation
        self.filtering = filtering
        self.real = real
        self.synthetic = synthetic
        self.metadata = metadata
        self.title = title
        self.info = dict(info or {})
        self.seed = seed
        self.preparation = preparation

    def to_dict(self) -> dict[str, Any]:
        out = {"title": self.title, "info": self.info, **self.evaluation.to_dict()}
        if self.model_privacy is not None:
            out["model_privacy"] = self.model_privacy
        if self.preparation is not None:
            out["preparation"] = self.preparation
        if self.filtering is not None:
            out["filtering"] = {
                "filters": self.filtering["filters"],
                "before": self.filtering["before"].metrics,
            }
        return out

    def _filtering_rows(self) -> list[dict[str, Any]]:
        """``{group, metric, before, after}`` for every headline metric of a filtered sample."""
        before = self.filtering["before"].metrics
        return [
            {"group": g, "metric": k, "before": before.get(g, {}).get(k), "after": v}
            for g, group in self.evaluation.metrics.items()
            for k, v in group.items()
        ]

    def _privacy(self) -> dict[str, Any] | None:
        """The "Privacy" section's content: the model's DP account, identifier matches and every attack
        with its interval and a line on what it shows and does not (``None``: nothing to show)."""
        d = self.evaluation.details
        mia, risks = d.get("membership"), d.get("reidentification")
        attacks = []
        if mia:
            attacks += [
                {
                    "name": "membership inference, DOMIAS (ROC-AUC)",
                    "value": mia["domias"]["auc"],
                    "ci": mia["domias"].get("auc_ci"),
                    "shows": "how well the density of synthetic over reference rows tells training members from real non-members; 0.5 is a coin toss",
                    "not_shown": "attacks with other side knowledge (a shadow model, the model's weights); a low AUC does not mean no single person is exposed",
                },
                {
                    "name": "membership inference, DOMIAS (TPR at 1 % FPR)",
                    "value": mia["domias"]["tpr_at_fpr"],
                    "ci": mia["domias"].get("tpr_at_fpr_ci"),
                    "shows": "the share of members the attack names while wrongly accusing 1 % of non-members; ≈ 0.01 means no leak",
                    "not_shown": "the most exposed individuals beyond the sampled candidates",
                },
                {
                    "name": "membership inference, distance to closest synthetic row (ROC-AUC)",
                    "value": mia["dcr"]["auc"],
                    "ci": mia["dcr"].get("auc_ci"),
                    "shows": "whether training rows sit closer to synthetic rows than unseen real rows do (copying or hugging)",
                    "not_shown": "leaks that do not bring synthetic rows near real ones",
                },
            ]
        if risks:
            for key, name, shows in (
                (
                    "singling_out_univariate",
                    "singling out, univariate",
                    "predicates from rare synthetic values that isolate exactly one training record, over the control set",
                ),
                (
                    "singling_out_multivariate",
                    "singling out, multivariate (3 columns)",
                    "predicates from a synthetic row's values that isolate one training record, over the control set",
                ),
                (
                    "linkability",
                    "linkability",
                    "training records whose two column halves lead to the same synthetic row, linking two datasets, over the control set",
                ),
                (
                    "inference_worst",
                    f"attribute inference, most exposed column ({risks['inference_worst']['column']})",
                    "secrets guessed right from the nearest synthetic row, training over control records; "
                    "the column is chosen on half of the attacks and measured on the other half",
                ),
            ):
                r = risks[key]
                attacks.append(
                    {
                        "name": name,
                        "value": r["risk"],
                        "ci": r["ci"],
                        "shows": shows
                        + (
                            ""
                            if r["beats_baseline"]
                            else " (this attack did not beat random guessing here, so its risk says nothing)"
                        ),
                        "not_shown": "risk to people outside the data, or from attackers with more background knowledge; 0 is a measured absence, not a guarantee",
                        "attacks": r["attacks"],
                        "beats": r["beats_baseline"],
                    }
                )
        identifiers = d.get("real_identifiers")
        if not attacks and identifiers is None and self.model_privacy is None:
            return None
        return {
            "model": self.model_privacy,
            "identifiers": identifiers,
            "attacks": attacks,
            "inference": risks["inference"] if risks else None,
            "skipped": self.evaluation.skipped.get("privacy attacks", "not asked for: evaluate --privacy"),
        }

    def _sample(self, df: pd.DataFrame) -> pd.DataFrame:
        if len(df) <= MAX_ROWS_FOR_PLOTS:
            return df
        return df.sample(MAX_ROWS_FOR_PLOTS, random_state=self.seed)

    def render(self) -> str:
        """The report as one HTML string."""
        real, synth = self._sample(self.real), self._sample(self.synthetic)
        cols = [c for c in self.metadata.names if self.metadata[c].sdtype not in NOT_LEARNED]
        shapes = self.evaluation.details.get("column_shapes", {})
        column_plots = [
            {
                "name": c,
                "sdtype": self.metadata[c].sdtype,
                "metric": shapes.get(c, {}).get("metric", ""),
                "score": shapes.get(c, {}).get("score"),
                "png": _column_plot(c, self.metadata[c].sdtype, self.metadata[c].format, real[c], synth[c]),
            }
            for c in cols
        ]
        heatmap = None
        if len(cols) >= 2:
            heatmap = _heatmaps(
                association_matrix(real, self.metadata, real), association_matrix(synth, self.metadata, real)
            )
        return (
            _templates()
            .get_template("report.html.j2")
            .render(
                preparation=self.preparation,
                filtering=(
                    {"filters": self.filtering["filters"], "rows": self._filtering_rows()}
                    if self.filtering is not None
                    else None
                ),
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                rows=self.evaluation.rows(),
                skipped=self.evaluation.skipped,
                column_plots=column_plots,
                heatmap=heatmap,
                metadata=self.metadata.explain(),
                privacy=self._privacy(),
                n_real=len(self.real),
                n_synth=len(self.synthetic),
            )
        )
