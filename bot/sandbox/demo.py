"""The demo workspace: a support team with three levels, two customer organisations, shared channels.

Used by the scenario tests and by the local sandbox, so both exercise the same, realistic setup.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.standin import Workspace
from config.support import SupportConfig, parse_support_config

HOME_TEAM = "T0HOME"
BOT_USER = "U0BOT"
ACME_TEAM, GLOBEX_TEAM = "T0ACME", "T0GLOBEX"
L1_CHANNEL, L2_CHANNEL, L3_CHANNEL = "C0L1", "C0L2", "C0L3"
L3_BILLING, L3_NETWORK = "C0L3BILL", "C0L3NET"
ACME_CHANNEL, GLOBEX_CHANNEL = "C0ACME", "C0GLOBEX"
LOUNGE_CHANNEL = "C0LOUNGE"
L1_GROUP, L2_GROUP, L3_GROUP = "S0L1", "S0L2", "S0L3"

# user id -> (name, real name, team, role)
PEOPLE: dict[str, tuple[str, str, str, str]] = {
    "U0L1ANNA": ("anna", "Anna Lindqvist", HOME_TEAM, "L1 agent"),
    "U0L1BEN": ("ben", "Ben Okafor", HOME_TEAM, "L1 agent"),
    "U0L2CARL": ("carl", "Carl Mendes", HOME_TEAM, "L2 agent"),
    "U0L3DORA": ("dora", "Dora Petrova", HOME_TEAM, "L3 specialist (billing)"),
    "U0L3EMIL": ("emil", "Emil Novak", HOME_TEAM, "L3 specialist (network)"),
    "U0LEAD": ("lena", "Lena Schulz", HOME_TEAM, "support lead"),
    "U0ACMEJO": ("jo", "Jo Miller", ACME_TEAM, "customer at Acme Corp"),
    "U0ACMEKIM": ("kim", "Kim Park", ACME_TEAM, "customer at Acme Corp"),
    "U0GLOBMAX": ("max", "Max Huber", GLOBEX_TEAM, "customer at Globex GmbH"),
}
L1_AGENTS = ("U0L1ANNA", "U0L1BEN")
L2_AGENTS = ("U0L2CARL",)
L3_SPECIALISTS = ("U0L3DORA", "U0L3EMIL")
LEAD = "U0LEAD"
INTERNAL = (*L1_AGENTS, *L2_AGENTS, *L3_SPECIALISTS, LEAD)


def build_demo_workspace(**create: Any) -> Workspace:
    """Teams, people and channels of the demo (the bot is a member where it needs to be)."""
    ws = Workspace.create(home_team_id=HOME_TEAM, bot_user_id=BOT_USER, team_name="Northwind IT", **create)
    ws.add_team(ACME_TEAM, name="Acme Corp")
    ws.add_team(GLOBEX_TEAM, name="Globex GmbH")
    for user_id, (name, real_name, team, role) in PEOPLE.items():
        ws.add_user(
            user_id,
            name=name,
            real_name=real_name,
            team_id=team,
            title=role,
            tz="Europe/Berlin" if team != ACME_TEAM else "America/New_York",
        )
    everyone_internal = [BOT_USER, *INTERNAL]
    ws.add_channel(L1_CHANNEL, "support-l1", members=[BOT_USER, *L1_AGENTS, *L2_AGENTS, LEAD])
    ws.add_channel(L2_CHANNEL, "support-l2", members=[BOT_USER, *L2_AGENTS, LEAD])
    ws.add_channel(L3_CHANNEL, "support-l3", members=[BOT_USER, *L3_SPECIALISTS, *L2_AGENTS, LEAD])
    ws.add_channel(L3_BILLING, "l3-billing", members=[BOT_USER, "U0L3DORA", *L2_AGENTS, LEAD])
    ws.add_channel(L3_NETWORK, "l3-network", members=[BOT_USER, "U0L3EMIL", *L2_AGENTS, LEAD])
    ws.add_channel(LOUNGE_CHANNEL, "team-lounge", members=everyone_internal)
    ws.add_channel(
        ACME_CHANNEL,
        "acme-support",
        members=[BOT_USER, *L1_AGENTS, *L2_AGENTS, LEAD, "U0ACMEJO", "U0ACMEKIM"],
        ext_shared_with=[ACME_TEAM],
    )
    ws.add_channel(
        GLOBEX_CHANNEL,
        "globex-support",
        members=[BOT_USER, *L1_AGENTS, *L2_AGENTS, LEAD, "U0GLOBMAX"],
        ext_shared_with=[GLOBEX_TEAM],
    )
    return ws


def demo_support_raw() -> dict[str, Any]:
    """The demo's support configuration as a TOML-shaped mapping."""
    return {
        "leads": [LEAD],
        "tickets": {"key_prefix": "SUP", "default_priority": "P3", "followup_window": "2m"},
        "defaults": {"timezone": "Europe/Berlin", "language": "en", "plan": "standard"},
        "levels": {
            "L1": {"channel": L1_CHANNEL, "ping": [L1_GROUP]},
            "L2": {"channel": L2_CHANNEL, "ping": [L2_GROUP]},
            "L3": {"channel": L3_CHANNEL, "ping": [L3_GROUP]},
        },
        "routes": [
            {"component": "billing", "label": "Billing", "channel": L3_BILLING, "ping": ["U0L3DORA"]},
            {"component": "network", "label": "Network & VPN", "channel": L3_NETWORK, "ping": ["U0L3EMIL"]},
        ],
        "customers": [
            {
                "team_id": ACME_TEAM,
                "name": "Acme Corp",
                "plan": "gold",
                "channels": [ACME_CHANNEL],
                "language": "en",
            },
            {
                "team_id": GLOBEX_TEAM,
                "name": "Globex GmbH",
                "plan": "silver",
                "channels": [GLOBEX_CHANNEL],
                "language": "de",
            },
        ],
        # Short SLA targets (minutes), so the sandbox shows warnings, breaches and nudges within minutes.
        "sla": {
            "calendars": {
                "office": {
                    "timezone": "Europe/Berlin",
                    "holidays": "DE-BY",
                    "hours": {d: ["08:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                },
            },
            "plans": {
                "gold": {
                    "calendar": "24x7",
                    "P1": {"first_response": "2m", "next_response": "5m", "resolution": "15m"},
                    "P2": {"first_response": "5m", "next_response": "10m", "resolution": "30m"},
                    "P3": {"first_response": "10m", "next_response": "20m", "resolution": "1h"},
                    "P4": {"first_response": "30m", "next_response": "1h", "resolution": "4h"},
                },
                "silver": {
                    "calendar": "24x7",
                    "P1": {"first_response": "5m", "next_response": "10m", "resolution": "30m"},
                    "P2": {"first_response": "10m", "next_response": "20m", "resolution": "1h"},
                    "P3": {"first_response": "20m", "next_response": "40m", "resolution": "2h"},
                    "P4": {"first_response": "1h", "resolution": "8h"},
                },
                "standard": {
                    "calendar": "office",
                    "P1": {"first_response": "30m", "resolution": "4h"},
                    "P2": {"first_response": "1h", "resolution": "8h"},
                    "P3": {"first_response": "4h", "resolution": "16h"},
                    "P4": {"first_response": "8h", "resolution": "40h"},
                },
            },
            "ola": {
                "L2": {"P1": "3m", "P2": "5m", "P3": "10m", "P4": "20m"},
                "L3": {"P1": "5m", "P2": "10m", "P3": "20m", "P4": "40m"},
            },
            "alerts": {
                "thresholds": [50, 75, 90],
                "warning": ["channel", "assignee"],
                "breach": ["channel", "assignee", "group"],
                "P1": {"breach": ["channel", "assignee", "group", "leads", "escalate"]},
            },
            "stale_after": "10m",
            "overview": {"at": "08:30", "days": ["mon", "tue", "wed", "thu", "fri"], "horizon": "1h"},
        },
    }


def demo_support_config() -> SupportConfig:
    """The demo's validated support configuration."""
    return parse_support_config(demo_support_raw(), source="demo")
