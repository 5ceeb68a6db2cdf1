"""Exceptions whose message is a complete one-line explanation for the user.

The CLI prints ``modist: error: <message>`` for any :class:`ModistError` and exits
with status 2, so messages must name the offending file or config key.
"""


class ModistError(Exception):
    """Base class for errors reported to the user without a traceback."""


class ConfigError(ModistError):
    """Unknown config key or invalid value."""


class DataError(ModistError):
    """A dataset, manifest or annotation file is missing or malformed."""


class VideoReadError(DataError):
    """A video file is missing, unreadable, truncated or has no video stream."""


class FlowError(ModistError):
    """An optical-flow method is unavailable or got invalid input."""
