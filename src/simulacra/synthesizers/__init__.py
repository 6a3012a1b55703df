"""Synthesizers: models that learn a table's joint distribution (or an image distribution) and sample.

``make(name, **params)`` builds one by registry name; ``BaseSynthesizer.load(path)`` reads a saved one.
The model classes are imported on first use (``simulacra.synthesizers.CTGAN`` imports torch then), so
that listing models or refusing a bad option stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from simulacra.synthesizers.base import (
    BUILTIN,
    DEFAULT_MODEL,
    BaseSynthesizer,
    Synthesizer,
    available,
    make,
    model_class,
    register,
)

#: the base classes a plug-in model derives from (the registered models come from ``BUILTIN``)
_BASES = {
    "TorchSynthesizer": "simulacra.synthesizers.neural",
    "TorchTraining": "simulacra.synthesizers.training",
    "ImageSynthesizer": "simulacra.synthesizers.image",
    "TextSynthesizer": "simulacra.synthesizers.text",
}
_LAZY = _BASES | {spec.partition(":")[2]: spec.partition(":")[0] for spec in BUILTIN.values()}

__all__ = [  # the base module's names, then every name of _LAZY (tests/test_copula.py checks they agree)
    "AIM",
    "CTGAN",
    "DCGAN",
    "DEFAULT_MODEL",
    "EDM",
    "TVAE",
    "VAE",
    "BaseSynthesizer",
    "ConditionalEDM",
    "ConditionalGAN",
    "ConditionalVAE",
    "Diffusion",
    "GaussianCopula",
    "HFCausalLM",
    "ImageRestorer",
    "ImageSynthesizer",
    "IndependentMarginals",
    "Mixture",
    "SeriesAR",
    "SeriesDiffusion",
    "SpecGAN",
    "SpecVAE",
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
