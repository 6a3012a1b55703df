"""``sample``: generate synthetic rows, images or texts from a saved model and write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities import Sampled, Status, named
from simulacra.requests import SampleRequest


def parse_class_counts(text: str | None) -> dict[str, int] | None:
    """``"yes=5000,no=5000"`` → ``{"yes": 5000, "no": 5000}``, split at the last ``=`` of each item (a
    class name may hold one, ``<=50K``; a count never does); ``None`` stays ``None``.

    Raises
    ------
    ConfigError
        An item without ``=`` or a name, a class given twice, or a count that is not a whole number.
    """
    if text is None:
        return None
    given: dict[str, int] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        name, eq, k = item.rpartition("=")
        if not eq or not name:
            raise ConfigError(f"`class_counts` {item!r} must look like class=rows, e.g. yes=5000")
        if name.strip() in given:
            raise ConfigError(f"`class_counts` {name.strip()} is given twice; give each class once")
        try:
            given[name.strip()] = int(k)
        except ValueError:
            raise ConfigError(f"`class_counts` {item!r}: give a whole number of rows") from None
    return given


def sample(request: SampleRequest, status: Status | None = None) -> Sampled:
    """Load the model in ``request.model`` and let its modality's plug-in draw and write the samples
    (:meth:`simulacra.modalities.Modality.sample`): conditional, class-balanced, filtered. Everything is
    checked before any sample is drawn.

    Raises
    ------
    ConfigError
        No count; ``class_counts`` without ``balance``; filters without ``data``; an option the
        model's modality does not take; a bad condition or value.
    OutputExistsError
        The output exists (without ``force``), is locked, or is one of the inputs.
    """
    from simulacra.io import atomic_write_text, check_not_input, claim
    from simulacra.synthesizers import BaseSynthesizer
    from simulacra.workflow import check_sources, refuse_private_filters

    check_sources(request.data, request.test)  # a missing input is refused before any work

    status = status or Status()
    r = request
    if r.rows is None and r.class_counts is None:
        raise ConfigError("give the number of rows with `rows` (or exact `class_counts`)")
    if r.class_counts is not None and r.balance is None:
        raise ConfigError("`class_counts` needs the column it counts; add `balance` COLUMN")
    if r.filters and r.data is None:
        raise ConfigError("`filters` compares with the model's real training rows; add `data` SOURCE")
    if r.filter_record is not None and not r.filters:
        raise ConfigError("`filter_record` records what `filters` dropped; add `filters` or drop it")
    check_not_input(r.output, r.model, r.data, r.test)
    if r.filter_record is not None:
        check_not_input(r.filter_record, r.model, r.data, r.test, flag="`filter_record`")
        if Path(r.filter_record).resolve() == Path(r.output).resolve():
            raise ConfigError("`filter_record` is `output`; give the record a file of its own")
        claim(r.filter_record, force=r.force, kind="file")
    if r.context_output is not None:
        check_not_input(r.context_output, r.model, r.data, r.test, flag="`context_output`")
        if Path(r.context_output).resolve() == Path(r.output).resolve():
            raise ConfigError("`context_output` is `output`; give the parent table a file of its own")
    model: Any = BaseSynthesizer.load(r.model)
    modality = named(model.modality)
    refuse_private_filters(model, r.filters)
    conditions = model.parse_conditions(dict(r.conditions))
    if (r.top_k is not None or r.top_p is not None or r.keep_copies) and not modality.token_controls:
        raise ConfigError("`top_k`, `top_p` and `keep_copies` are for text models; drop them")
    if r.sequence_length is not None and not modality.sequences:
        raise ConfigError("`sequence_length` is for keyed series models; drop it")
    if r.context_output is not None and not modality.sequences:
        raise ConfigError("`context_output` is for keyed series models; drop it")
    sampled = modality.sample(model, r, conditions, status)
    if r.filter_record is not None:
        atomic_write_text(r.filter_record, json.dumps(sampled.filters, indent=2) + "\n", force=r.force)
    return sampled
