"""Every cell of the README's permission table, checked against the permission module."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.permissions import Action, Actor, decide

README = Path(__file__).resolve().parents[2] / "README.md"
LEVELS = ("L1", "L2", "L3")
ROLES = {
    "customer (own org)": Actor("U0C1", "T0ACME", is_external=True),
    "customer (other org)": Actor("U0C2", "T0GLOBEX", is_external=True),
    "internal, no level": Actor("U0X", "T0HOME", is_external=False),
    "L1 agent": Actor("U0A", "T0HOME", is_external=False, levels=frozenset({"L1"})),
    "L2 agent": Actor("U0B", "T0HOME", is_external=False, levels=frozenset({"L2"})),
    "L3 specialist": Actor("U0C", "T0HOME", is_external=False, levels=frozenset({"L3"})),
    "lead": Actor("U0L", "T0HOME", is_external=False, is_lead=True),
}


def _table() -> tuple[list[str], dict[str, list[str]]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- permissions-table -->")[1].split("<!-- /permissions-table -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.strip().splitlines()]
    header, body = rows[0], rows[2:]
    return header[1:], {row[0]: row[1:] for row in body}


def _allowed_levels(cell: str) -> set[str]:
    if cell == "yes":
        return set(LEVELS)
    if cell.startswith("no"):
        return set()
    if "–" in cell:
        first, last = cell.split("–")
        return set(LEVELS[LEVELS.index(first) : LEVELS.index(last) + 1])
    return {cell}


ROLE_NAMES, TABLE = _table()
CELLS = [(action, role, level) for action in TABLE for role in ROLE_NAMES for level in LEVELS]


def test_table_covers_every_action_and_role() -> None:
    assert set(TABLE) == {a.value for a in Action}
    assert ROLE_NAMES == list(ROLES)


@pytest.mark.parametrize(("action", "role", "level"), CELLS)
def test_cell(action: str, role: str, level: str) -> None:
    expected = level in _allowed_levels(TABLE[action][ROLE_NAMES.index(role)])
    decision = decide(ROLES[role], Action(action), ticket_level=level, ticket_team_id="T0ACME")
    assert decision.allowed is expected
    if not decision.allowed:
        assert decision.reason and "<" not in decision.reason  # a polite, plain explanation
