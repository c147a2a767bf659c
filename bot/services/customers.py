"""Customer organisations: configured ones and those detected from Slack Connect channels."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from config.support import SupportConfig
from models import Customer


async def ensure_customer(*, team_id: str, config: SupportConfig) -> Customer:
    """The customer row for a Slack team, created from the config (or defaults) on first sight."""
    customer = await Customer.get_or_none(team_id=team_id)
    configured = config.customer_by_team(team_id)
    if customer is None:
        fields = {
            "name": configured.name if configured else f"Customer {team_id}",
            "plan": configured.plan if configured else config.defaults.plan,
            "language": configured.language if configured else None,
        }
        try:
            return await Customer.create(team_id=team_id, **fields)
        except IntegrityError:  # created concurrently by another delivery
            return await Customer.get(team_id=team_id)
    if configured and (customer.name, customer.plan, customer.language) != (
        configured.name,
        configured.plan,
        configured.language,
    ):
        customer.name, customer.plan, customer.language = (
            configured.name,
            configured.plan,
            configured.language,
        )
        await customer.save(update_fields=["name", "plan", "language", "updated_at"])
    return customer
