"""Secret randomness for privacy mechanisms: fresh OS entropy, never a seed, never stored.

A differentially private mechanism is private only while its noise is unknown to the adversary. Noise
drawn from a public seed (``seed=0`` by default, saved in ``config.json``) can be replayed: whoever knows
the other rows refits on ``D`` and on ``D + x`` with that seed and compares with the released model, and
learns whether ``x`` was in the data with certainty (ε = ∞). So every random draw of a mechanism — the
domain estimate's noisy counts, AIM's Gaussian measurements and exponential-mechanism selections,
DP-SGD's Poisson batches and gradient noise — comes from the generators of this module, each seeded with 128
bits from the operating system's CSPRNG (:func:`secrets.randbits`) and dropped after the fit. The
public ``seed`` of a DP model drives only what happens after release: sampling from the fitted model.

The generators themselves are NumPy's PCG64 and torch's Mersenne Twister, fast generators rather than
cryptographic ones, and their normal samples are floating-point numbers; both are known limitations of
every floating-point DP library (Mironov 2012, "On Significance of the Least Significant Bits for
Differential Privacy"). DP-SGD's noise uses Opacus' ``secure_mode`` sum of Gaussians, which removes the
known floating-point attack on that sampler (Holohan & Braghin 2021).
"""

from __future__ import annotations

import secrets

import numpy as np

#: bits of OS entropy behind each secret generator
ENTROPY_BITS = 128


def secret_rng() -> np.random.Generator:
    """A NumPy generator seeded from :data:`ENTROPY_BITS` bits of OS entropy; nothing about it is kept."""
    return np.random.default_rng(secrets.randbits(ENTROPY_BITS))


def secret_seed(bits: int = 63) -> int:
    """``bits`` bits of OS entropy as an integer, for a generator that takes a seed (torch's, Faker's);
    use it at once and keep it nowhere."""
    return secrets.randbits(bits)


__all__ = ["ENTROPY_BITS", "secret_rng", "secret_seed"]
