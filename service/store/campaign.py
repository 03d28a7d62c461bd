"""Seasonal campaigns: "theme T on this selection from A to B", recorded in the database (campaigns,
campaign_items) and worked by a runner (service.jobs.store_campaigns) with service.store.campaign_run.

    create_campaign   checks the plan (a known theme, start before end, a valid selection) and records it
    list_campaigns    a store's campaigns, newest first, with their reports
    cancel_campaign   before the start: nothing happens, ever; once applied: the evergreen look returns now
    due_campaigns     the ids whose due_at has passed (the runner's queue)
    claim             takes one due campaign for a lease (one UPDATE that only the unclaimed row matches)

A campaign applies to the photos a sync published (its `published` sync items, the newest per image); a
selected product promptcut has not published is reported as skipped ("run a sync first"). A product tagged
`promptcut-no-campaign` in the store is skipped too. The caller owns no transaction: each function opens its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from fusion.errors import InvalidOptionError, PromptcutError
from service.db import Database
from service.db.schema import Campaign, CampaignItem, StoreConnection, new_id, utcnow
from service.engine.render_request import RenderRequest
from service.store.catalogue import Selection, search_query

OPT_OUT_TAG = "promptcut-no-campaign"
ITEM_STATES = ("pending", "applied", "reverted", "failed", "skipped")
WORKING_STATES = ("scheduled", "applying", "active", "reverting")  # the runner still has something to do


class CampaignNotFoundError(PromptcutError):
    code = "campaign_not_found"


class CampaignStateError(PromptcutError):
    """The campaign cannot be cancelled any more (it is done or cancelled)."""

    code = "campaign_conflict"


@dataclass(frozen=True)
class CampaignPlan:
    """What a seller asks for. Times are timezone-aware (naive ones are read as UTC)."""

    theme: str
    starts_at: datetime
    ends_at: datetime
    selection: Selection = Selection()

    def checked(self, check_render: Callable[[RenderRequest], None]) -> "CampaignPlan":
        """Normalised, or InvalidOptionError: the theme must exist (check_render raises for an unknown one),
        the start must come before the end, the selection must be valid."""
        theme = RenderRequest(theme=self.theme).theme
        if not theme:
            raise InvalidOptionError("a campaign needs a theme")
        check_render(RenderRequest(theme=theme))
        starts, ends = as_utc(self.starts_at), as_utc(self.ends_at)
        if ends <= starts:
            raise InvalidOptionError("the campaign must end after it starts")
        search_query(self.selection)
        return CampaignPlan(theme, starts, ends, self.selection)

    def selection_json(self) -> dict[str, str]:
        return {name: value for name, value in vars(self.selection).items() if value}


@dataclass(frozen=True)
class CampaignReport:
    id: str
    store_id: str
    theme: str
    selection: dict[str, str]
    state: str
    starts_at: datetime
    ends_at: datetime
    counts: dict[str, int]  # applied, reverted, failed, skipped, pending
    error_message: str | None
    created_at: datetime
    applied_at: datetime | None
    reverted_at: datetime | None
    cancelled_at: datetime | None

    def line(self) -> str:
        counts = ", ".join(f"{self.counts.get(name, 0)} {name}" for name in ("applied", "reverted", "failed",
                                                                             "skipped"))
        why = f" — {self.error_message}" if self.error_message else ""
        return (f"campaign {self.id} {self.state}: theme {self.theme}, {_iso(self.starts_at)} → "
                f"{_iso(self.ends_at)}; {counts}{why}")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "store_id": self.store_id, "theme": self.theme, "selection": dict(self.selection),
                "state": self.state, "starts_at": _iso(self.starts_at), "ends_at": _iso(self.ends_at),
                "counts": dict(self.counts), "error": self.error_message, "created_at": _iso(self.created_at),
                "applied_at": _iso(self.applied_at), "reverted_at": _iso(self.reverted_at),
                "cancelled_at": _iso(self.cancelled_at)}


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def store_owner(database: Database, store_id: str, key_id: str | None = None) -> str:
    """The key of a connected store (CampaignNotFoundError when it is not connected, or not key_id's)."""
    with database.session() as db:
        store = db.get(StoreConnection, store_id)
        if store is None or store.token_sealed is None or (key_id is not None and store.key_id != key_id):
            raise CampaignNotFoundError(f"no connected store with id {store_id!r}")
        return store.key_id


def create_campaign(database: Database, key_id: str, store_id: str, plan: CampaignPlan) -> CampaignReport:
    """Record a checked plan; the runner applies it once starts_at has passed (at once if it already has)."""
    store_owner(database, store_id, key_id)
    with database.session() as db:
        row = Campaign(id=new_id(), key_id=key_id, store_id=store_id, theme=plan.theme,
                       selection=plan.selection_json(), starts_at=plan.starts_at, ends_at=plan.ends_at,
                       state="scheduled", due_at=plan.starts_at, created_at=utcnow())
        db.add(row)
        db.flush()
        return _report(db, row)


def get_campaign(database: Database, campaign_id: str, key_id: str | None = None,
                 store_id: str | None = None) -> CampaignReport:
    with database.session() as db:
        return _report(db, _row(db, campaign_id, key_id, store_id))


def list_campaigns(database: Database, store_id: str, key_id: str | None = None) -> list[CampaignReport]:
    store_owner(database, store_id, key_id)
    with database.session() as db:
        rows = db.scalars(select(Campaign).where(Campaign.store_id == store_id)
                          .order_by(Campaign.created_at.desc(), Campaign.id.desc()))
        return [_report(db, row) for row in rows]


def cancel_campaign(database: Database, campaign_id: str, now: datetime, key_id: str | None = None,
                    store_id: str | None = None) -> CampaignReport:
    """Before anything was applied: cancelled, nothing is ever written. Once applied (or applying): the
    runner reverts it now (state reverting, due now)."""
    with database.session() as db:
        row = _row(db, campaign_id, key_id, store_id)
        if row.state == "scheduled":
            row.state, row.due_at, row.cancelled_at = "cancelled", None, now
        elif row.state in ("applying", "active", "reverting"):
            row.state, row.due_at, row.cancelled_at = "reverting", now, now
        else:
            raise CampaignStateError(f"campaign {campaign_id} is {row.state}: there is nothing to cancel")
        db.flush()
        return _report(db, row)


def due_campaigns(database: Database, now: datetime) -> list[str]:
    with database.session() as db:
        query = (select(Campaign.id).where(Campaign.state.in_(WORKING_STATES), Campaign.due_at <= now)
                 .order_by(Campaign.due_at, Campaign.id))
        return list(db.scalars(query))


def claim(database: Database, campaign_id: str, worker: str, now: datetime, lease: timedelta) -> bool:
    """Take a due campaign until now + lease (a server killed mid-way is taken over after that)."""
    with database.session() as db:
        taken = db.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.due_at <= now,
                                                  Campaign.state.in_(WORKING_STATES))
                           .values(claimed_by=worker, due_at=now + lease)).rowcount
        return taken == 1


def _row(db, campaign_id: str, key_id: str | None, store_id: str | None) -> Campaign:
    row = db.get(Campaign, campaign_id)
    if row is None or (key_id is not None and row.key_id != key_id) or (store_id is not None and
                                                                        row.store_id != store_id):
        raise CampaignNotFoundError(f"no campaign with id {campaign_id!r}")
    return row


def counts(db, campaign_id: str) -> dict[str, int]:
    found = Counter(db.scalars(select(CampaignItem.state).where(CampaignItem.campaign_id == campaign_id)))
    return {state: found.get(state, 0) for state in ITEM_STATES}


def _report(db, row: Campaign) -> CampaignReport:
    return CampaignReport(row.id, row.store_id, row.theme, dict(row.selection or {}), row.state, row.starts_at,
                          row.ends_at, counts(db, row.id), row.error_message, row.created_at, row.applied_at,
                          row.reverted_at, row.cancelled_at)
