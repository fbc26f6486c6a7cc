"""One celery beat per site: the scheduler holds a claim in the shared cache while it runs.

A second beat would send every periodic job twice (two critical-project computations, two
rounds of reminder emails). The claim is a key in the cache every process shares (Redis with
REDIS_URL, the file cache in the embedded setup): a beat that finds it held by another refuses
to start, and a beat that finds its claim taken over stops sending jobs and exits.
"""

import logging
import os
import secrets
import socket
from typing import Any

from celery.beat import PersistentScheduler
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)

CLAIM_KEY = "celery-beat:claim"
# A claim not renewed for this long is free: a beat killed without a chance to release it
# blocks its replacement for at most this long.
CLAIM_SECONDS = 60
# The scheduler wakes at least this often to renew its claim, well inside CLAIM_SECONDS.
RENEW_SECONDS = 15.0

PER_PROCESS_CACHE_MESSAGE = (
    "celery beat did not start: the cache is private to each process, so a second beat could "
    "not be noticed. Set REDIS_URL (or leave CACHE_URL unset for the embedded file cache)."
)
HELD_MESSAGE = (
    "celery beat did not start: another beat ({holder}) is running for this site, and a "
    "second would send every periodic job twice. Stop this one; if the other has stopped, "
    "start this one again after {seconds} seconds, when its claim expires."
)
LOST_MESSAGE = (
    "celery beat stopped: its claim was taken by another beat ({holder}), which now sends the "
    "periodic jobs. Run exactly one beat per site."
)


# One holder name per process: a scheduler that celery builds again in the same process (its
# SIGTERM handler does, when the signal arrives while the first one is still being set up)
# holds the same claim, and closing it releases that claim.
_PROCESS_HOLDER = f"{socket.gethostname()} pid {os.getpid()} #{secrets.token_hex(4)}"


class BeatClaim:
    """This process's claim to be the site's one beat, kept in the shared cache."""

    def __init__(self) -> None:
        self.holder = _PROCESS_HOLDER

    def acquire(self) -> str | None:
        """Claim the site's beat; return None, or the holder of the claim if another has it."""
        if isinstance(caches["default"], LocMemCache | DummyCache):
            raise SystemExit(PER_PROCESS_CACHE_MESSAGE)
        cache.add(CLAIM_KEY, self.holder, CLAIM_SECONDS)
        # Read back rather than trusting add(): the file cache's add() is a check then a write,
        # so of two beats starting at the same instant the later write is the one that holds.
        holder = cache.get(CLAIM_KEY)
        return None if holder == self.holder else str(holder)

    def renew(self) -> str | None:
        """Extend the claim; return None, or the holder of the claim if another took it."""
        holder = cache.get(CLAIM_KEY)
        if holder is not None and holder != self.holder:
            return str(holder)
        # Expired meanwhile (this beat was stalled past CLAIM_SECONDS) and nobody took it:
        # claim it again.
        if holder is None:
            return self.acquire()
        cache.touch(CLAIM_KEY, CLAIM_SECONDS)
        return None

    def release(self) -> None:
        """Give the claim up, so a replacement can start at once."""
        if cache.get(CLAIM_KEY) == self.holder:
            cache.delete(CLAIM_KEY)


class SingleBeatScheduler(PersistentScheduler):
    """celery beat's persistent scheduler, run only while this beat holds the site's claim."""

    claim: BeatClaim | None = None

    def setup_schedule(self) -> None:
        claim = BeatClaim()
        holder = claim.acquire()
        if holder is not None:
            message = HELD_MESSAGE.format(holder=holder, seconds=CLAIM_SECONDS)
            logger.error(message)
            raise SystemExit(message)
        self.claim = claim
        super().setup_schedule()
        logger.info("celery beat claimed the site", extra={"holder": claim.holder})

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.claim is not None:
            holder = self.claim.renew()
            if holder is not None:
                logger.error(LOST_MESSAGE.format(holder=holder))
                self.claim = None
                raise SystemExit(1)
        return min(super().tick(*args, **kwargs), RENEW_SECONDS)

    def close(self) -> None:
        super().close()
        if self.claim is not None:
            self.claim.release()
            self.claim = None
