"""Image synthesizers: ``dcgan``, ``cgan`` (class-conditional), ``vae``, ``cvae`` (class-conditional), ``edm``,
``cedm`` (class-conditional, classifier-free guidance).

``make("cgan", epochs=20).fit(images)`` on an :class:`~simulacra.io.ImageSet`; ``sample(n, conditions=
{"label": 7}, seed=0)`` returns an ImageSet.
"""

from __future__ import annotations

from simulacra.synthesizers.image.base import ImageSynthesizer
from simulacra.synthesizers.image.diffusion import EDM, ConditionalEDM
from simulacra.synthesizers.image.gan import DCGAN, ConditionalGAN
from simulacra.synthesizers.image.vae import VAE, ConditionalVAE

__all__ = ["DCGAN", "EDM", "VAE", "ConditionalEDM", "ConditionalGAN", "ConditionalVAE", "ImageSynthesizer"]
