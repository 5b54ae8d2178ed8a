"""The project's error types. The CLI prints these (and user errors: bad values, missing or
unwritable files, a missing optional package) as one line; anything else is a bug and keeps its
traceback."""
from __future__ import annotations

from ._core import InputError, ModelError, NanodetError


class NanodetRuntimeError(NanodetError, RuntimeError):
    """A failure the user can act on (no display, pnnx failed, a parity check failed). Also a
    RuntimeError, which is what these were raised as before."""


#: what the CLI reports as one line: the project's errors and errors in the user's input
USER_ERRORS = (NanodetError, ValueError, OSError, ImportError)

__all__ = ["NanodetError", "ModelError", "InputError", "NanodetRuntimeError", "USER_ERRORS"]
