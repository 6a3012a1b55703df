"""The commands, as library functions: one function per verb, each taking one validated request
object (pydantic) and returning a result object. The CLI is parse → request → call → print over this
layer, and a ``simulacra run`` config is a list of the same requests.

    >>> from simulacra.commands import FitRequest, fit
    >>> result = fit(FitRequest.of(source="adult", output="models/adult"))  # doctest: +SKIP

Commands dispatch once on the data's modality (:mod:`simulacra.modalities`) and hold no branch of
their own; :class:`~simulacra.modalities.Status` is where they say what they are doing (silent unless
the caller passes one that prints).
"""

from simulacra.commands.base import FitInterrupted, Request
from simulacra.commands.evaluate import EvaluateRequest, EvaluateResult, evaluate
from simulacra.commands.fit import FitRequest, FitResult, fit
from simulacra.modalities import Status

__all__ = [
    "EvaluateRequest",
    "EvaluateResult",
    "FitInterrupted",
    "FitRequest",
    "FitResult",
    "Request",
    "Status",
    "evaluate",
    "fit",
]
