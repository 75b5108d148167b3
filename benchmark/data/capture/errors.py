"""The two ways a capture is refused: the scenario file, or the run itself (README §3)."""

from __future__ import annotations


class CaptureError(RuntimeError):
    """A capture cannot start or failed; the message says what to do."""


class ScenarioError(ValueError):
    """`scenarios.toml` is missing, malformed or lacks the asked scenario, or an option is out
    of range."""
