"""Product analytics through PostHog: `services.analytics` and the events it reports.

The GET /v1/config route lives in `momento.analytics.endpoints` (not imported here, so the
services can import this package without the web layer).
"""

from momento.analytics import events
from momento.analytics.client import (
    Analytics,
    FlagValue,
    NoAnalytics,
    PostHogAnalytics,
    from_settings,
)

__all__ = ["Analytics", "FlagValue", "NoAnalytics", "PostHogAnalytics", "events", "from_settings"]
