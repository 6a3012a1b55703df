"""The precision/recall trade-off of sampling temperatures, as ``simulacra bench`` draws it."""

from __future__ import annotations

import base64
from typing import Any

from matplotlib.figure import Figure

from simulacra.report.html import _png


def tradeoff_png(curves: list[tuple[str, list[dict[str, Any]]]]) -> bytes:
    """A PNG of precision (y) against recall (x), one line per model through its temperatures, each
    point labelled with its τ (Naeem et al. 2020's metrics; :mod:`simulacra.evaluate.diversity`).

    Parameters
    ----------
    curves : list of (model, points)
        ``points``: dicts with ``temperature``, ``precision`` and ``recall``, in temperature order.
    """
    fig = Figure(figsize=(5.2, 4.2))
    ax = fig.subplots()
    for i, (name, points) in enumerate(curves):
        xs = [p["recall"] for p in points]
        ys = [p["precision"] for p in points]
        ax.plot(xs, ys, marker="o", color=f"C{i % 10}", label=name)
        for p in points:
            ax.annotate(
                f"τ={p['temperature']:g}",
                (p["recall"], p["precision"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("recall (diversity)")
    ax.set_ylabel("precision (fidelity)")
    ax.set_title("sampling temperature: precision against recall", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return base64.b64decode(_png(fig))
