"""The API's routers, one module per resource; `create_app` includes each module's `router`."""

from service.api.routes import (
    cutouts,
    health,
    items,
    jobs,
    store_campaigns,
    store_syncs,
    store_webhooks,
    stores,
    themes,
    webhook_secret,
)

__all__ = ["cutouts", "health", "items", "jobs", "store_campaigns", "store_syncs", "store_webhooks", "stores", "themes",
           "webhook_secret"]
