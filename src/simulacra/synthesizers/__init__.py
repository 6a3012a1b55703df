"""Synthesizers: models that learn a table's joint distribution (or an image distribution) and sample.

``make(name, **params)`` builds one by registry name; ``Synthesizer.load(path)`` reads a saved one.
"""

from __future__ import annotations

from simulacra.synthesizers.base import BaseSynthesizer, Synthesizer, available, make, model_class, register
from simulacra.synthesizers.copula import GaussianCopula
from simulacra.synthesizers.ctgan import CTGAN
from simulacra.synthesizers.image import DCGAN, VAE, ConditionalGAN, ConditionalVAE, ImageSynthesizer
from simulacra.synthesizers.neural import TorchSynthesizer
from simulacra.synthesizers.tvae import TVAE

__all__ = [
    "CTGAN",
    "DCGAN",
    "TVAE",
    "VAE",
    "BaseSynthesizer",
    "ConditionalGAN",
    "ConditionalVAE",
    "GaussianCopula",
    "ImageSynthesizer",
    "Synthesizer",
    "TorchSynthesizer",
    "available",
    "make",
    "model_class",
    "register",
]
