"""``inspect`` and ``prepare``: a table's detected metadata with the model advice; cleaning with a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities import of_source
from simulacra.requests import InspectRequest, PrepareRequest


@dataclass
class Inspection:
    """What :func:`inspect` found: the table's shape, its :class:`~simulacra.metadata.Metadata`
    (``explain()``: each column's sdtype and the rule that chose it), the model advice line, and where
    the metadata JSON was written (or ``None``)."""

    rows: int
    columns: int
    metadata: Any
    advice: str
    written: Any = None


def inspect(request: InspectRequest) -> Inspection:
    """Detect a table's metadata (with the overrides applied) and the model that suits it.

    Raises
    ------
    DataError
        The source is unreadable, or holds images or texts (their metadata is the image size or the
        text and label columns, which ``fit`` reports).
    OutputExistsError
        ``output`` exists (without ``force``), or is one of the inputs.
    """
    from simulacra.io import atomic_write_text, check_not_input, claim
    from simulacra.workflow import check_sources, load_source, table_metadata

    check_sources(request.source)  # a missing input is refused before any work

    r = request
    if r.output:
        check_not_input(r.output, r.source, r.metadata)
        claim(r.output, force=r.force, kind="file")
    df = load_source(r.source)  # images and texts are refused here, naming what they are
    meta = table_metadata(df, r.metadata)
    from simulacra.synthesizers.advice import advise  # torch, through the mixture: after the checks

    found = Inspection(len(df), df.shape[1], meta, advise(df, meta).line())
    if r.output:
        found.written = atomic_write_text(r.output, meta.to_json() + "\n", force=r.force)
    return found


def prepare(request: PrepareRequest) -> tuple[Any, Any]:
    """Clean a table with a record of every change, profile it and split it (or clean a separate test
    table the same way): ``(output folder, Preparation)``. The request's split fields override the
    config's ``split`` section. With ``restore`` (images), restore every image with that model
    instead (the modality's :meth:`~simulacra.modalities.Modality.restore`): ``(where,
    Restored)``.

    Raises
    ------
    ConfigError
        A config that is not a mapping of cleaning steps, or a bad option; images and texts.
    OutputExistsError
        The output exists (without ``force``), or is one of the inputs.
    """
    from simulacra.io import check_not_input, read_yaml
    from simulacra.pipeline import run_prepare
    from simulacra.workflow import check_sources

    check_sources(request.source, request.test)  # a missing input is refused before any work

    r = request
    check_not_input(r.output, r.source, r.test, r.config, r.restore)
    modality = of_source(r.source)
    if r.restore is not None:
        return modality.restore(r)
    if not modality.preparable:
        raise modality.refuse(
            f"prepare cleans tables, and {r.source!r} holds {modality.unit}",
            "fit it directly, or augment it with simulacra augment",
        )
    cfg: Any = {}
    if r.config is not None:
        cfg = read_yaml(r.config) or {}
        if not isinstance(cfg, dict):
            raise ConfigError(f"{r.config}: the config must be a mapping of cleaning steps")
    split_cfg = cfg.get("split", {})
    overrides = {"method": r.split, "column": r.split_column, "seed": r.seed, "fractions": r.fractions}
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        cfg["split"] = {**(split_cfg if isinstance(split_cfg, dict) else {}), **given}
    return run_prepare(r.source, r.output, test=r.test, config=cfg, force=r.force)
