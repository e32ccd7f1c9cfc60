"""`python -m bench.faults [--kills N] [--db sqlite|postgresql|both] [--seed S]
[--restart-db]`: run the fault campaign and print its table (exit 1 on a fault)."""

from __future__ import annotations

import argparse
import sys

from bench.faults.campaign import Plan, run
from bench.faults.scenarios import MAX_KILL_DELAY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--kills", type=int, default=500,
                        help="dispatchers SIGKILLed per database (default 500)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--max-kill-delay", type=float, default=MAX_KILL_DELAY,
                        help="a dispatcher is killed after 0 to this many seconds; longer "
                             "delays land more kills inside sends rather than in claims "
                             f"and rendering (default {MAX_KILL_DELAY})")
    parser.add_argument("--dispatchers", type=int, nargs="*", default=[2, 4, 8],
                        help="concurrent dispatchers scenarios on PostgreSQL")
    parser.add_argument("--restart-db", action="store_true",
                        help="also restart PostgreSQL under a dispatch (never in CI: other "
                             "tests share that server)")
    args = parser.parse_args(argv)
    databases = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    plan = Plan(kills=args.kills, databases=databases, seed=args.seed,
                dispatchers=tuple(args.dispatchers), restart_db=args.restart_db,
                max_kill_delay=args.max_kill_delay)
    report = run(plan, say=lambda line: print(line, flush=True))
    print(report.text(), flush=True)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
