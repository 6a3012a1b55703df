"""Text synthesizers: ``textgpt`` (a small GPT trained from scratch) and ``hf-causal-lm`` (fine-tunes a
local or hub causal language model; the optional extra ``simulacra[transformers]``).

``make("textgpt", epochs=5).fit(texts)`` on a :class:`~simulacra.io.TextSet`; ``sample(n,
conditions={"label": "spam"}, seed=0)`` returns a TextSet.
"""

from __future__ import annotations

from simulacra.synthesizers.text.base import TextSynthesizer
from simulacra.synthesizers.text.gpt import TextGPT

__all__ = ["TextGPT", "TextSynthesizer"]
