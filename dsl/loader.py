"""Rule files from disk to checked policies, for the engine and the command line.

`load_rules([rules_dir])` reads every `*.rules` file (folders: sorted, recursively),
parses and checks them all, and returns what it built with every diagnostic. It never
raises for a bad file: a caller looks at `ok` and prints `diagnostics`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from relance.dsl import ast
from relance.dsl.checker import check_policies
from relance.dsl.diagnostics import Diagnostic, error, has_errors, render_all, sort_key
from relance.dsl.parser import parse_text
from relance.kernel.i18n import _

RULES_SUFFIX = ".rules"


@dataclass(frozen=True)
class LoadedRules:
    """The rule files read, their policies in file order, and what is wrong with them."""

    files: dict[str, str]  # path relative to root -> exact text
    policies: tuple[ast.Policy, ...]
    diagnostics: tuple[Diagnostic, ...]
    rule_files: tuple[ast.RuleFile, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is an error (warnings allowed)."""
        return not has_errors(self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def render(self) -> str:
        """Every diagnostic as a compiler prints them, with source lines."""
        return render_all(self.diagnostics, self.files)


def rule_paths(paths: Sequence[Path], root: Path | None = None,
               ) -> tuple[list[Path], list[Diagnostic]]:
    """The rule files named by `paths`: files as given, folders expanded to their
    `*.rules` files (sorted, sub-folders included). Missing paths are diagnostics."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(f"*{RULES_SUFFIX}") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(error("E100", _("no such file or folder"),
                                  ast.Span(display_path(path, root), 0, 0)))
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, problems


def display_path(path: Path, root: Path | None) -> str:
    """How a file is named in spans and messages: relative to `root` when under it."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def load_rules(
    paths: Sequence[Path],
    root: Path | None = None,
    *,
    catalogue: Mapping[str, frozenset[str]] | None = None,
    levels: Mapping[tuple[str, str], int] | None = None,
    creditors: Collection[str] | None = None,
    check: bool = True,
) -> LoadedRules:
    """Read, parse and (unless `check=False`) check the rule files under `paths`.

    `catalogue` (template name -> channels) lets the checker report unknown templates;
    without it templates are not checked. `levels` ((policy, rule identity) -> open
    invoices there, read from the store) lets it report levels whose rule was removed;
    `creditors` (the store's creditor codes) lets it report `creditor` compared with a
    code no creditor has."""
    files_found, diagnostics = rule_paths(paths, root)
    files: dict[str, str] = {}
    rule_files: list[ast.RuleFile] = []
    unreadable: set[str] = set()
    for path in files_found:
        name = display_path(path, root)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            diagnostics.append(error("E100", _("not UTF-8 text (byte {byte})").format(
                                         byte=exc.start),
                                     ast.Span(name, 0, 0), _("save the file as UTF-8")))
            continue
        except OSError as exc:
            diagnostics.append(error("E100", _("cannot read the file ({reason})").format(
                                         reason=exc.strerror),
                                     ast.Span(name, 0, 0)))
            continue
        files[name] = text
        rule_file, found = parse_text(text, name)
        diagnostics.extend(found)
        if rule_file is not None:
            rule_files.append(rule_file)
            if has_errors(found):
                unreadable.add(name)
    if check:
        # A file with syntax errors holds stand-in values: checking it would report
        # the same fault twice, so it is checked once it parses cleanly.
        checkable = [rule_file for rule_file in rule_files if rule_file.path not in unreadable]
        diagnostics.extend(check_policies(checkable, catalogue, levels, creditors))
    policies = tuple(policy for rule_file in rule_files for policy in rule_file.policies)
    return LoadedRules(files, policies, tuple(sorted(diagnostics, key=sort_key)),
                       tuple(rule_files))


def load_text(text: str, path: str = "<text>", *,
              catalogue: Mapping[str, frozenset[str]] | None = None) -> LoadedRules:
    """Parse and check one file's text (tests, the TUI's editor)."""
    diagnostics: list[Diagnostic] = []
    rule_file, found = parse_text(text, path)
    diagnostics.extend(found)
    rule_files = [rule_file] if rule_file is not None else []
    if not has_errors(found):
        diagnostics.extend(check_policies(rule_files, catalogue))
    policies = rule_file.policies if rule_file is not None else ()
    return LoadedRules({path: text}, policies, tuple(sorted(diagnostics, key=sort_key)),
                       tuple(rule_files))
