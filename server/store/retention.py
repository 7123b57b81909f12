"""Retention of the recent time series: expired telemetry samples are deleted in the
background, a small chunk per store call, so the single writer thread serves ingest's
transactions between chunks and a large backlog (after downtime, or a shortened
retention) never stalls the coordinator.
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter

from server.config import StorageSettings
from server.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

PRUNE_CHUNK = 2000  # samples deleted per store call


async def prune_samples_forever(store: SqliteStore, storage: StorageSettings,
                                pruned: Counter) -> None:
    """Every ``storage.prune_interval_s``, delete samples older than the retention and
    count them in ``pruned``.  A failure is logged and retried next time: retention must
    never take ingest down with it."""
    while True:
        cutoff = time.time() - storage.samples_retention_s
        try:
            while True:
                deleted = await store.prune_samples(cutoff, PRUNE_CHUNK)
                pruned.inc(deleted)
                if deleted < PRUNE_CHUNK:
                    break
        except Exception:
            log.exception("could not prune samples; trying again later")
        await asyncio.sleep(storage.prune_interval_s)
