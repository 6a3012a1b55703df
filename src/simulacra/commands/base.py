"""What every command shares: the request base class and how a request's values are checked."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from simulacra.validation import config_error

R = TypeVar("R", bound="Request")


class Request(BaseModel):
    """A command's inputs, checked by pydantic before any work: unknown fields are refused, and so are
    values of the wrong type (an ``int`` field takes no ``"3"``). Build one with :meth:`of`, which
    turns a validation error into one :class:`~simulacra.errors.ConfigError` line naming the field.

    The field names are the CLI's option names with ``_`` for ``-`` (``max_rows`` is ``--max-rows``),
    so a config file, a library call and the command line say the same thing the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the command's name, used in error lines
    command: str = ""

    @classmethod
    def of(cls: type[R], **values: Any) -> R:
        """The request with ``values``.

        Raises
        ------
        ConfigError
            An unknown field, a missing one or a value of the wrong type.
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(exc, cls.model_fields["command"].default or cls.__name__) from None


class FitInterrupted(KeyboardInterrupt):
    """A fit stopped by Ctrl-C or SIGTERM before its model was written. ``resume_from`` is the
    checkpoint folder the same request with ``resume=True`` continues from (``None`` when no
    checkpoint was saved); the interruption that stopped it is ``__cause__``."""

    def __init__(self, resume_from: Any) -> None:
        super().__init__()
        self.resume_from = resume_from
