"""A point's status in ``sweep.nc``, and how its failure message is shortened.

Standard library only: the sweep's start (:mod:`.workers`, :mod:`.child`) imports it before
anything heavy, so that worker processes can start while the sweep is still importing.
"""
from __future__ import annotations

STATUS_OK = "ok"
STATUS_PENDING = "pending"
STATUS_TIMEOUT = "timeout"
STATUS_OOM = "out of memory"
STATUS_FAILED = "failed"
MAX_MESSAGE = 300  # characters of a failure's message kept in the result file


def short(text: str) -> str:
    """``text`` on one line, at most :data:`MAX_MESSAGE` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."
