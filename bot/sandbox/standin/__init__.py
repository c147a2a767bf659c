"""Slack stand-in: a local Slack Web API server over a workspace model, with faults and a leak guard."""

from .faults import CallRecord, Fault, FaultInjector
from .limits import Leak, LeakGuard, block_errors, check_message_content, check_view
from .webapi import METHODS, ResponseUrl, SlackStandIn, TriggerId, build_standin_app
from .workspace import (
    Channel,
    Ephemeral,
    Message,
    SlackError,
    StoredFile,
    StoredView,
    Team,
    User,
    Workspace,
)

__all__ = [
    "METHODS",
    "CallRecord",
    "Channel",
    "Ephemeral",
    "Fault",
    "FaultInjector",
    "Leak",
    "LeakGuard",
    "Message",
    "ResponseUrl",
    "SlackError",
    "SlackStandIn",
    "StoredFile",
    "StoredView",
    "Team",
    "TriggerId",
    "User",
    "Workspace",
    "block_errors",
    "build_standin_app",
    "check_message_content",
    "check_view",
]
