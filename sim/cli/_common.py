"""Small helpers shared by the CLI groups: one console, one way to report an error.

A library error (`keys.KeysError`, `edoc.EdocError`, anything with a string ``code`` and
``message``) becomes one red line on stderr, ``error: <code>: <message>``, and exit code 2;
never a traceback::

    with reported_errors():
        store.revoke(serial, at=now)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn, Protocol, TypeGuard

import typer
from rich.console import Console
from rich.text import Text

# No emoji codes: a fingerprint's ":AB:" must not print as 🆎. Markup stays on for our own
# strings; show data (names, paths, ...) as `rich.text.Text`, which is never parsed.
console = Console(emoji=False)
"""Standard output: tables and results."""
err_console = Console(stderr=True, emoji=False)
"""Standard error: errors and warnings."""

EXIT_ERROR = 2


class CodedError(Protocol):
    """An error with a stable machine-readable code and a human message."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


def fail(code: str, message: str, *, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: <code>: <message>`` in red to stderr and exit with ``exit_code``."""
    err_console.print(Text(f"error: {code}: {message}", style="red"), soft_wrap=True)
    raise typer.Exit(exit_code)


def fail_with(error: CodedError, *, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Report a library error (``.code`` and ``.message``) and exit."""
    fail(error.code, error.message, exit_code=exit_code)


@contextmanager
def reported_errors(*, exit_code: int = EXIT_ERROR) -> Iterator[None]:
    """Turn coded library errors and file-system errors raised inside into `fail`."""
    try:
        yield
    except typer.Exit:
        raise
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        fail("io_error", f"{exc.strerror or exc}{where}", exit_code=exit_code)
    except Exception as exc:
        if _is_coded(exc):
            fail_with(exc, exit_code=exit_code)
        raise


def _is_coded(error: object) -> TypeGuard[CodedError]:
    return isinstance(getattr(error, "code", None), str) and isinstance(
        getattr(error, "message", None), str
    )
