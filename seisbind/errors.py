"""Exceptions for bad input: each names the file, line or trace it is about, so a user can find and fix it."""

from __future__ import annotations


class SeisbindInputError(ValueError):
    """Input data or configuration that seisbind cannot use as given."""


class BadTraceError(SeisbindInputError):
    """One waveform trace is unusable (missing key, wrong shape, non-finite samples, unreadable file)."""

    def __init__(self, path: str, trace_name: str, reason: str) -> None:
        super().__init__(f"{path}: trace {trace_name!r}: {reason}")
        self.path = path
        self.trace_name = trace_name
        self.reason = reason


class SeisbindOutputError(OSError):
    """An output file could not be written (disk full, read-only folder); the message names the path."""
