"""Errors are values the UI can show.

Every failure a user can meet is one of these: a one-line message, an optional
hint that says how to fix it, and for file and template errors the line and
column it points at. Nothing else should reach the user as a traceback.
"""

from __future__ import annotations


class TtsError(Exception):
    """A failure with a message a person can act on."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line
        self.column = column

    @property
    def where(self) -> str:
        """"line 3, column 7" (or "" when the error has no position)."""
        if self.line is None:
            return ""
        if self.column is None:
            return f"line {self.line}"
        return f"line {self.line}, column {self.column}"

    def __str__(self) -> str:
        text = self.message
        if self.where:
            text = f"{text} ({self.where})"
        if self.hint:
            text = f"{text}; {self.hint}"
        return text


class ConfigError(TtsError):
    """The config file cannot be read, parsed or validated."""


class TemplateError(TtsError):
    """A body, URL, query or header template cannot be rendered."""


class RequestError(TtsError):
    """An HTTP exchange failed: refused, timed out, HTTP error, not audio...

    `status` is the HTTP status when the server answered.
    """

    status: int | None = None


class AudioError(TtsError):
    """Audio bytes cannot be decoded, played or saved."""
