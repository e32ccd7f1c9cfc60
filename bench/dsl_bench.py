"""How long parsing and checking 1,000 rules takes (run by hand, not in the tests).

    .venv/bin/python bench/dsl_bench.py [RULES]

Builds one file with 50 policies of RULES/50 rules each (every construct of the
language appears), then times parse, check, and format, best of five runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from relance.dsl.checker import check_policies
from relance.dsl.formatter import format_file
from relance.dsl.parser import parse_text

RULE_TEMPLATES = (
    "rule r{n}:\n  when overdue >= {d}d and not paused and not disputed\n"
    "  then send email 'relance_1' with tone soft\n",
    "rule r{n}:\n  when overdue >= {d}d and after r{p} by 5d and balance >= 100.50 EUR\n"
    "    and segment in [franchisee, retail] and not paused\n"
    "  then send letter 'mise_en_demeure' with tone firm and send email 'mise_en_demeure',"
    " requires approval\n",
    "rule r{n}:\n  when (overdue >= {d}d or due_date < 2026-01-31) and 'vip' not in tags\n"
    "    and not paused and risk > 50\n  then call with priority high, every 2w\n",
    "rule r{n}:\n  when overdue >= {d}bd and attr.region = 'north' and not promised "
    "and not paused\n  then notify sales_rep 'late_alert', per invoice\n",
)


def build(rules: int) -> str:
    per_policy = max(1, rules // 50)
    parts = []
    count = 0
    for policy in range((rules + per_policy - 1) // per_policy):
        parts.append(f"# policy {policy}\npolicy p{policy} for currency = eur\n")
        for index in range(per_policy):
            if count == rules:
                break
            template = RULE_TEMPLATES[index % len(RULE_TEMPLATES)]
            if index == 0 and "after" in template:
                template = RULE_TEMPLATES[0]
            parts.append(template.format(n=index, d=index + 1, p=max(index - 1, 0)))
            count += 1
    return "\n".join(parts)


def best_of(runs: int, action: Callable[[], object],
            clock: Callable[[], float] = time.perf_counter) -> float:
    timings = []
    for _ in range(runs):
        start = clock()
        action()
        timings.append(clock() - start)
    return min(timings)


def main() -> None:
    rules = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    text = build(rules)
    parse_text("policy warm_up", "warm.rules")  # builds the LALR tables once
    rule_file, diagnostics = parse_text(text, "bench.rules")
    assert rule_file is not None, diagnostics
    total = sum(len(p.rules) for p in rule_file.policies)
    errors = [d for d in check_policies([rule_file]) if d.is_error]
    assert not errors, errors[0].render(text)
    print(f"{total} rules, {len(text.splitlines())} lines, {len(text)} characters")
    print("best of 5      wall ms    CPU ms   (CPU time is steadier on a busy machine)")
    totals = [0.0, 0.0]
    for label, action in (
        ("parse", lambda: parse_text(text, "bench.rules")),
        ("check", lambda: check_policies([rule_file])),
        ("format", lambda: format_file(rule_file)),
    ):
        wall = best_of(5, action)
        cpu = best_of(5, action, time.process_time)
        if label != "format":
            totals = [totals[0] + wall, totals[1] + cpu]
        print(f"{label:12} {wall * 1000:9.1f} {cpu * 1000:9.1f}")
    print(f"{'parse+check':12} {totals[0] * 1000:9.1f} {totals[1] * 1000:9.1f}")


if __name__ == "__main__":
    main()
