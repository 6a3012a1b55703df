"""Augmentation: image pipelines built on Kornia (``simulacra.augment.image``)."""

from __future__ import annotations

from simulacra.augment.image import OPS, ImageAugmenter, augment_images

__all__ = ["OPS", "ImageAugmenter", "augment_images"]
