"""Seasonal campaigns on the job machinery: one background thread applies and reverts campaigns when they are
due, one at a time. The schedule is the database (campaigns.due_at), so it survives restarts: a campaign whose
start (or end) passed while the server was down is worked as soon as the server starts; one claimed by a server
that never came back is taken over after PROMPTCUT_LEASE_SECONDS.

Time comes from `clock` (UTC, aware): the server's wall clock, a test's fake one. Re-rendering uses the engine's
theme-swap path (Engine.rerender: the stored layer over another background), never the segmenter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from service.db.schema import utcnow
from service.engine.render_request import RenderRequest
from service.jobs.background_loop import BackgroundLoop
from service.jobs.runtime import Services
from service.jobs.store_syncs import sync_context
from service.store import campaign as campaigns
from service.store.campaign_run import CampaignContext, work
from service.store.connections import StoreEndpointRules
from service.store.secrets import SecretBox

log = logging.getLogger("promptcut.store.campaigns")

POLL_SECONDS = 5.0  # the wall-clock interval at which due campaigns are looked for (a create wakes it at once)
Clock = Callable[[], datetime]


def campaign_context(services: Services, box: SecretBox, rules: StoreEndpointRules,
                     clock: Clock = utcnow) -> CampaignContext:
    def rerender(artifacts: Mapping[str, str], render: Mapping[str, Any]) -> str:
        return services.engine.rerender(artifacts, RenderRequest.from_dict(dict(render))).artifacts["output"]

    return CampaignContext(sync_context(services, box, rules), rerender, clock)


class StoreCampaignRunner(BackgroundLoop):
    poll_seconds = POLL_SECONDS

    def __init__(self, services: Services, box: Callable[[], SecretBox], rules: StoreEndpointRules,
                 clock: Clock = utcnow) -> None:
        """`box` gives the server's SecretBox when a campaign first needs it (not at start)."""
        super().__init__("promptcut-store-campaigns", log)
        self._services = services
        self._box = box
        self._rules = rules
        self.clock = clock
        self._context: CampaignContext | None = None
        self._requested = 0  # run_pass calls so far
        self._served = 0  # the run_pass calls the last completed pass began after
        self._passed = threading.Condition()

    def run_pass(self, timeout: float = 60.0) -> None:
        """Wake the runner and wait until it has completed a whole pass after this call (tests, after moving
        their clock)."""
        with self._passed:
            self._requested += 1
            target = self._requested
            self.wake()
            if not self._passed.wait_for(lambda: self._served >= target, timeout):
                raise TimeoutError("the campaign runner did not complete a pass")

    def one_pass(self) -> None:
        with self._passed:
            serving = self._requested
        try:
            self.work_due()
        finally:  # a failed pass is a pass too: run_pass must not wait for ever
            with self._passed:
                self._served = serving
                self._passed.notify_all()

    def work_due(self) -> int:
        """Work every campaign due now; returns how many were worked."""
        worked = 0
        lease = timedelta(seconds=self._services.settings.lease_seconds)
        for campaign_id in campaigns.due_campaigns(self._services.database, self.clock()):
            if self.stopping():
                break
            if not campaigns.claim(self._services.database, campaign_id, self._services.worker_name(), self.clock(),
                                   lease):
                continue
            if self._context is None:
                self._context = campaign_context(self._services, self._box(), self._rules, lambda: self.clock())
            work(self._context, campaign_id)
            log.info("store campaign %s: worked", campaign_id)
            worked += 1
        return worked
