"""Privacy accounting: zero-concentrated DP for the marginal mechanisms, Rényi DP for DP-SGD, and
their conversion to (ε, δ)-DP.

* **zCDP** (Bun & Steinke 2016, "Concentrated Differential Privacy: Simplifications, Extensions, and
  Lower Bounds", TCC): the Gaussian mechanism of L2 sensitivity Δ and noise σ is ``Δ²/(2σ²)``-zCDP;
  the exponential mechanism with parameter ε is ``ε²/8``-zCDP (Cesar & Rogers 2021, "Bounding,
  Concentrating, and Truncating: Unifying Privacy Loss Composition for Data Analytics"); ρ's add up
  under composition; ρ-zCDP implies ``(ρ + 2√(ρ·ln(1/δ)), δ)``-DP (Proposition 1.3 of the paper).
* **RDP** (Mironov 2017, "Rényi Differential Privacy", CSF) of the subsampled Gaussian mechanism
  (Mironov, Talwar & Zhang 2019), computed by Opacus' analysis (``opacus.accountants.analysis.rdp``),
  composes with zCDP because ρ-zCDP is ``(α, ρα)``-RDP for every order α; the RDP curve converts to
  (ε, δ) as Opacus does (Balle et al. 2020).
* A mechanism that also has a δ of its own (the stability-based category release of
  :mod:`simulacra.transform.domain`) adds that δ to the total (approximate zCDP).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulacra.metadata import Metadata
from simulacra.transform.domain import Domain, estimate_domain, is_declared

#: Rényi orders the DP-SGD accountant evaluates (Opacus' defaults)
ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def epsilon_of_rho(rho: float, delta: float) -> float:
    """ε of ``(ε, δ)``-DP implied by ρ-zCDP: ``ρ + 2√(ρ·ln(1/δ))`` (Bun & Steinke 2016, Prop. 1.3)."""
    if rho <= 0:
        return 0.0
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def rho_of_epsilon(epsilon: float, delta: float) -> float:
    """The largest ρ whose zCDP implies ``(epsilon, delta)``-DP by :func:`epsilon_of_rho` (its inverse)."""
    root = -math.sqrt(math.log(1.0 / delta)) + math.sqrt(math.log(1.0 / delta) + epsilon)
    return root * root * (1.0 - 1e-9)  # float rounding must never make the spent ε exceed the asked one


def sgd_epsilon(q: float, noise: float, steps: int, delta: float, rho: float = 0.0) -> float:
    """ε of ``steps`` Poisson-subsampled Gaussian steps (sampling rate ``q``, noise multiplier
    ``noise``) composed with a ρ-zCDP mechanism, at ``delta``."""
    import warnings

    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    rdp = compute_rdp(q=q, noise_multiplier=noise, steps=steps, orders=ORDERS) + rho * np.asarray(ORDERS)
    with warnings.catch_warnings():  # "optimal order is the largest alpha" for huge noise: a bound still
        warnings.simplefilter("ignore")
        eps, _ = get_privacy_spent(orders=ORDERS, rdp=rdp, delta=delta)
    return float(eps)


def sgd_noise(epsilon: float, delta: float, q: float, steps: int, rho: float = 0.0) -> float:
    """The smallest noise multiplier (to 0.1 %) for which :func:`sgd_epsilon` stays at or below
    ``epsilon``: bisection on a monotone function.

    Raises
    ------
    ValueError
        ``rho`` alone (the domain estimate) already spends ``epsilon``.
    """
    if sgd_epsilon(q, 1e6, steps, delta, rho) >= epsilon:
        raise ValueError("the budget is spent before training; raise epsilon or declare the domain")
    lo, hi = 0.0, 1.0
    while sgd_epsilon(q, hi, steps, delta, rho) > epsilon:
        lo, hi = hi, hi * 2
    while hi - lo > 1e-3 * hi:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if sgd_epsilon(q, mid, steps, delta, rho) <= epsilon else (mid, hi)
    return hi


#: share of δ given to the released category sets when some are estimated
DOMAIN_DELTA_SHARE = 0.1


def private_domain(
    data: pd.DataFrame,
    metadata: Metadata,
    columns: list[str],
    *,
    epsilon: float,
    delta: float,
    share: float,
) -> tuple[Domain, float, float]:
    """A DP model's public domain and the budget it leaves: columns whose domain the user declared
    cost nothing; the others are estimated (:func:`simulacra.transform.domain.estimate_domain`) with
    ``share`` of ρ and, when category sets are released, :data:`DOMAIN_DELTA_SHARE` of δ.

    Returns
    -------
    (Domain, float, float)
        The domain; the δ left for converting ρ to (ε, δ); ρ of the whole budget at that δ (the
        domain's own ρ, ``domain.rho``, is part of it).
    """
    estimating = [c for c in columns if not is_declared(metadata, c)]
    cats = [c for c in estimating if metadata[c].sdtype in ("categorical", "boolean")]
    delta_domain = delta * DOMAIN_DELTA_SHARE if cats else 0.0
    delta_rest = delta - delta_domain
    rho_total = rho_of_epsilon(epsilon, delta_rest)
    rho_domain = share * rho_total if estimating else 0.0
    domain = estimate_domain(data, metadata, columns, rho=rho_domain, delta=delta_domain)
    return domain, delta_rest, rho_total
