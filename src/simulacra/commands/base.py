"""What every command shares."""

from __future__ import annotations

from typing import Any


class FitInterrupted(KeyboardInterrupt):
    """A fit stopped by Ctrl-C or SIGTERM before its model was written. ``resume_from`` is the
    checkpoint folder the same request with ``resume=True`` continues from (``None`` when no
    checkpoint was saved); the interruption that stopped it is ``__cause__``."""

    def __init__(self, resume_from: Any) -> None:
        super().__init__()
        self.resume_from = resume_from
