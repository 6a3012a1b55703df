"""Augmentation: image pipelines built on Kornia (``simulacra.augment.image``)."""

from __future__ import annotations

from simulacra.augment.image import MIX_OPS, OPS, ImageAugmenter, augment_images

__all__ = ["MIX_OPS", "OPS", "ImageAugmenter", "augment_images"]
