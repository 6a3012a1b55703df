"""``augment``: write augmented copies of an image set or of labelled texts."""

from __future__ import annotations

from simulacra.modalities import Augmented, Status, of_source
from simulacra.requests import AugmentRequest, loader_options


def augment(request: AugmentRequest, status: Status | None = None) -> Augmented:
    """Augmented copies of every item of ``request.source``, by its modality's plug-in
    (:meth:`simulacra.modalities.Modality.augment`): Kornia ops on images, EDA and typos on texts;
    tables are refused in one line.

    Raises
    ------
    ConfigError
        A table source, a malformed pipeline, or an output of the wrong format.
    OutputExistsError
        The output exists (without ``force``), is locked, or is one of the inputs.
    """
    from simulacra.io import check_not_input
    from simulacra.workflow import check_sources

    check_sources(request.source, request.test)  # a missing input is refused before any work

    r = request
    check_not_input(r.output, r.source, r.pipeline, r.test, r.parent_table)
    modality = of_source(r.source, **loader_options(r))
    return modality.augment(r, status or Status())
