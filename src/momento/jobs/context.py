"""What a running task reaches: the services the worker was started with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from procrastinate import JobContext

if TYPE_CHECKING:
    from momento.services import Services


def services_of(context: JobContext) -> Services:
    """The worker's services (database, storage, push sender, analytics...)."""
    services: Services = context.additional_context["services"]
    return services
