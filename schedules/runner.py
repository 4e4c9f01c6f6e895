"""The scheduler's life: APScheduler in the background, active only while holding the lease.

Jobs are rebuilt from the store (the truth), never pickled. `SchedulerRunner.tick()` is what
the background thread calls; tests call it directly with a set clock instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.services import Services
from bot.store import inbound
from schedules import lease

log = logging.getLogger(__name__)
DEDUPE_KEEP = timedelta(days=7)  # WeChat retries within seconds; a week is generous


Job = Callable[[Services], None]


@dataclass
class SchedulerRunner:
    services: Services
    holder: str = field(default_factory=lease.holder_id)
    jobs: list[Job] = field(default_factory=list)
    is_leader: bool = False
    _scheduler: BackgroundScheduler | None = None
    _stopped: bool = False
    # Orders a tick's lease renewal against stop()'s release: a tick still in flight when
    # stop() runs (shutdown does not wait for it) must not take the lease back afterwards.
    _lease_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tick(self) -> bool:
        """Renew (or take) the lease; run the due jobs if we hold it. Returns leadership."""
        with self._lease_lock:
            if self._stopped:
                return False
            now = self.services.clock.timestamp()
            held = lease.try_acquire(self.services.store, self.holder, now)
        if held != self.is_leader:
            log.info("scheduler %s: %s the lease", self.holder, "took" if held else "lost")
        self.is_leader = held
        if held:
            for job in self.jobs:
                self._run(job)
        return held

    def _run(self, job: Job) -> None:
        try:
            job(self.services)
        except Exception:
            # One failing job must not stop the others or the lease renewals.
            log.exception("scheduled job %s failed", getattr(job, "__name__", job))

    def start(self) -> None:
        self._stopped = False
        self._scheduler = BackgroundScheduler(timezone=str(self.services.clock.tz))
        # One interval job: each tick renews the lease and, on the leader, reads the schedules
        # table (the truth) for due fires. Nothing is pickled; changes made by the CLI or another
        # process are seen on the next tick.
        tick_s = self.services.config.get("scheduler.tick_s")
        self._scheduler.add_job(self.tick, "interval", seconds=tick_s, id="tick",
                                max_instances=1, coalesce=True,
                                next_run_time=self.services.clock.now())
        self._scheduler.start()
        log.info("scheduler %s started", self.holder)

    def stop(self) -> None:
        with self._lease_lock:
            self._stopped = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        lease.release(self.services.store, self.holder, self.services.clock.timestamp())
        self.is_leader = False


def forget_old_dedupe_records(services: Services) -> None:
    with services.store.transaction() as db:
        inbound.forget_before(db, services.clock.now() - DEDUPE_KEEP)


def default_jobs() -> list[Job]:
    from schedules import jobs

    return [*jobs.default_jobs(), forget_old_dedupe_records]
