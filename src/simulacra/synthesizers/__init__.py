"""Synthesizers: models that learn a table's joint distribution and sample new rows.

``make(name, **params)`` builds one by registry name; ``Synthesizer.load(path)`` reads a saved one.
"""

from __future__ import annotations

from simulacra.synthesizers.base import Synthesizer, available, make, model_class, register
from simulacra.synthesizers.copula import GaussianCopula
from simulacra.synthesizers.ctgan import CTGAN
from simulacra.synthesizers.neural import TorchSynthesizer
from simulacra.synthesizers.tvae import TVAE

__all__ = [
    "CTGAN",
    "TVAE",
    "GaussianCopula",
    "Synthesizer",
    "TorchSynthesizer",
    "available",
    "make",
    "model_class",
    "register",
]
