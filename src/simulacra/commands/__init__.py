"""The commands, as library functions: one function per verb, each taking one validated request
object (pydantic) and returning a result object. The CLI is parse → request → call → print over this
layer, and a ``simulacra run`` config is a list of the same requests.

    >>> from simulacra.commands import FitRequest, fit
    >>> result = fit(FitRequest.of(source="adult", output="models/adult"))  # doctest: +SKIP

Commands dispatch once on the data's modality (:mod:`simulacra.modalities`) and hold no branch of
their own; :class:`~simulacra.modalities.Status` is where they say what they are doing (silent unless
the caller passes one that prints).
"""

from simulacra.commands.augment import augment
from simulacra.commands.base import FitInterrupted
from simulacra.commands.bench import BenchOutcome, bench
from simulacra.commands.evaluate import EvaluateResult, evaluate
from simulacra.commands.fit import FitResult, fit
from simulacra.commands.inspect import Inspection, inspect, prepare
from simulacra.commands.mix import MixOutcome, mix
from simulacra.commands.pipeline import STEPS as PIPELINE_STEPS
from simulacra.commands.pipeline import RunResult, run_pipeline
from simulacra.commands.run import Step, is_steps_config, load_steps, run_steps
from simulacra.commands.sample import parse_class_counts, sample
from simulacra.commands.tune import TuneOutcome, tune
from simulacra.io import redact_url
from simulacra.modalities import Augmented, Sampled, Status, of_source
from simulacra.requests import (
    AugmentRequest,
    BenchRequest,
    EvaluateRequest,
    FitRequest,
    InspectRequest,
    MixRequest,
    PrepareRequest,
    Request,
    SampleRequest,
    TuneRequest,
)
from simulacra.scale.distributed import check_ray_options
from simulacra.synthesizers.base import DEFAULT_MODEL
from simulacra.synthesizers.base import available as available_models
from simulacra.validation import MAX_SEED

__all__ = [
    "DEFAULT_MODEL",
    "MAX_SEED",
    "PIPELINE_STEPS",
    "AugmentRequest",
    "Augmented",
    "BenchOutcome",
    "BenchRequest",
    "EvaluateRequest",
    "EvaluateResult",
    "FitInterrupted",
    "FitRequest",
    "FitResult",
    "InspectRequest",
    "Inspection",
    "MixOutcome",
    "MixRequest",
    "PrepareRequest",
    "Request",
    "RunResult",
    "SampleRequest",
    "Sampled",
    "Status",
    "Step",
    "TuneOutcome",
    "TuneRequest",
    "augment",
    "available_models",
    "bench",
    "check_ray_options",
    "evaluate",
    "fit",
    "inspect",
    "is_steps_config",
    "load_steps",
    "mix",
    "of_source",
    "parse_class_counts",
    "prepare",
    "redact_url",
    "run_pipeline",
    "run_steps",
    "sample",
    "tune",
]
