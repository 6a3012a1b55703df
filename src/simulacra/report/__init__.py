"""Reports: ``metrics.json`` and one self-contained ``report.html`` (plots inline, readable offline)."""

from __future__ import annotations

from simulacra.report.audio import AudioReport
from simulacra.report.html import Report, preparation_html
from simulacra.report.image import ImageReport
from simulacra.report.mix import MixReport
from simulacra.report.text import TextReport

__all__ = ["AudioReport", "ImageReport", "MixReport", "Report", "TextReport", "preparation_html"]
