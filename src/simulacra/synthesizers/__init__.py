"""Synthesizers: models that learn a table's joint distribution and sample new rows.

``make(name, **params)`` builds one by registry name; ``Synthesizer.load(path)`` reads a saved one.
"""

from __future__ import annotations

from simulacra.synthesizers.base import Synthesizer, available, make, register
from simulacra.synthesizers.copula import GaussianCopula

__all__ = ["GaussianCopula", "Synthesizer", "available", "make", "register"]
