"""Exceptions whose message is a complete one-line explanation for the user.

The CLI prints ``modist: error: <message>`` for any :class:`ModistError` and exits
with status 2, so messages must name the offending file or config key.
"""

from __future__ import annotations

import os
import re


class ModistError(Exception):
    """Base class for errors reported to the user without a traceback."""


class ConfigError(ModistError):
    """Unknown config key or invalid value."""


class DataError(ModistError):
    """A dataset, manifest or annotation file is missing or malformed."""


class VideoReadError(DataError):
    """A video file is missing, unreadable, truncated or has no video stream.

    ``VideoReadError(path, reason)`` has the message ``"<path>: <reason>"``; a single
    argument is such a message whole (re-raising another error's text), its path then
    being what precedes the first ``": "``. A reason's first clause names the failure and
    may go on with a detail in parentheses or after a colon; :attr:`kind` is that clause.

    Example:
        >>> err = VideoReadError("/v/a.mp4", "truncated or corrupt: decoding stopped at 0.87 s of 2.00 s (EOF)")
        >>> err.reason
        'truncated or corrupt: decoding stopped at 0.87 s of 2.00 s (EOF)'
        >>> err.kind
        'truncated or corrupt'
        >>> VideoReadError("/v/b.mp4: cannot open (Invalid data found when processing input)").kind
        'cannot open'
    """

    def __init__(self, path_or_message: str | os.PathLike, reason: str | None = None):
        text = str(path_or_message)
        if reason is None:
            path, sep, rest = text.partition(": ")
            self.path, self.reason = (path, rest) if sep else (None, text)
            super().__init__(text)
        else:
            self.path, self.reason = text, reason
            super().__init__(f"{text}: {reason}")

    def __reduce__(self):
        # Exceptions pickle their args (the whole message); keeping the two parts keeps a
        # path that itself contains ": " intact across DataLoader and Pool workers.
        return type(self), ((self.reason,) if self.path is None else (self.path, self.reason))

    @property
    def kind(self) -> str:
        """The reason without its detail: what skipped videos are counted under."""
        return re.split(r" \(|: ", self.reason, maxsplit=1)[0].strip() or "unreadable"


class FlowError(ModistError):
    """An optical-flow method is unavailable or got invalid input."""
