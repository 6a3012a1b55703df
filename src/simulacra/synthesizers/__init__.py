"""Synthesizers: models that learn a table's joint distribution (or an image distribution) and sample.

``make(name, **params)`` builds one by registry name; ``BaseSynthesizer.load(path)`` reads a saved one.
The model classes are imported on first use (``simulacra.synthesizers.CTGAN`` imports torch then), so
that listing models or refusing a bad option stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from simulacra.synthesizers.base import (
    DEFAULT_MODEL,
    BaseSynthesizer,
    Synthesizer,
    available,
    make,
    model_class,
    register,
)

_LAZY = {
    "GaussianCopula": "simulacra.synthesizers.copula",
    "IndependentMarginals": "simulacra.synthesizers.copula",
    "Mixture": "simulacra.synthesizers.mixture",
    "Diffusion": "simulacra.synthesizers.diffusion",
    "CTGAN": "simulacra.synthesizers.ctgan",
    "TVAE": "simulacra.synthesizers.tvae",
    "TorchSynthesizer": "simulacra.synthesizers.neural",
    "TorchTraining": "simulacra.synthesizers.training",
    "ImageSynthesizer": "simulacra.synthesizers.image",
    "DCGAN": "simulacra.synthesizers.image",
    "ConditionalGAN": "simulacra.synthesizers.image",
    "VAE": "simulacra.synthesizers.image",
    "ConditionalVAE": "simulacra.synthesizers.image",
    "TextSynthesizer": "simulacra.synthesizers.text",
    "TextGPT": "simulacra.synthesizers.text",
}

__all__ = [
    "CTGAN",
    "DCGAN",
    "DEFAULT_MODEL",
    "TVAE",
    "VAE",
    "BaseSynthesizer",
    "ConditionalGAN",
    "ConditionalVAE",
    "Diffusion",
    "GaussianCopula",
    "ImageSynthesizer",
    "IndependentMarginals",
    "Mixture",
    "Synthesizer",
    "TextGPT",
    "TextSynthesizer",
    "TorchSynthesizer",
    "TorchTraining",
    "available",
    "make",
    "model_class",
    "register",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simulacra.synthesizers' has no attribute {name!r}")
