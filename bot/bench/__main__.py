"""`python -m bot.bench <name> [options]`: dispatch to a benchmark module's `main(argv)`.

To add a benchmark, write `bot/bench/<name>.py` with `main(argv: Sequence[str] | None) -> int` and add it
to BENCHMARKS (modules are imported only when chosen).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# name -> (module with main(argv), one line for --help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "intake": ("bot.bench.intake", "customer messages -> L1 cards: the bot next to bare Bolt, same run"),
    "escalate": ("bot.bench.escalate", "/escalate SUP-N reason commands: the bot next to bare Bolt (pbr)"),
    "faults": ("bot.bench.faults", "burst with 429s/500s and a SIGKILL + restart: lost, duplicated, delay"),
    "kb": ("bot.bench.kb", "KB import -> index -> stackfaq P@1/MRR/Hit@3 and search latency at 125/10k"),
    "sla": ("bot.bench.sla", "N open SLA timers, a share due at once: lateness p50/p99, RSS, lost/doubled"),
}


def usage() -> str:
    """The list of benchmarks."""
    lines = ["usage: python -m bot.bench <benchmark> [options]   (<benchmark> --help for its options)", ""]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in BENCHMARKS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmark with the remaining arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
