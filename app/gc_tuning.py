"""Garbage-collector settings for the long-running processes (server and agent).

Everything loaded at start-up (modules, the ORM's mappings, settings) lives as long as the
process: `gc.freeze()` moves it out of the collector's way, so a full collection no longer
walks it. A burst allocates tens of thousands of short-lived containers (tasks, futures,
messages); a larger first-generation threshold collects them in fewer, cheaper passes (most
of them are freed by reference counting anyway; the threshold only bounds cyclic garbage).
In the burst benchmark this takes about a fifth off the time to start a thousand runs.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 200_000


def tune_for_service() -> None:
    """Call once start-up is done, before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
