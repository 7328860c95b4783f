"""Revision names, their order, and selection specs.

Names as the families publish them: Pythia ``step{N}`` (``main`` is the last step), OLMo
``step{N}-tokens{B}B``, OLMo-2 ``stage1-step{N}-tokens{B}B`` and later stages
``stage2-ingredient{K}-step{N}-tokens{B}B`` (ordered by stage, then ingredient, then step), and the Hugging
Face Trainer's checkpoint folders ``checkpoint-{N}``. Names with no
step sort after the numbered ones (kept), ``main`` last. A family not listed can give its own pattern: a
regular expression with the named groups ``step`` and optionally ``stage``, ``ingredient`` and ``tokens``
(a number with an optional K/M/B/T unit), tried before the built-in shapes.

Pure functions over names: no network, no cache. :mod:`trajectory.hub.source` lists the names.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from trajectory.errors import TrajectoryError

MAIN = "main"
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_STEP_TOKENS = re.compile(
    r"^(?:stage(?P<stage>\d+)-(?:ingredient(?P<ingredient>\d+)-)?)?"
    r"step(?P<step>\d+)(?:-tokens(?P<tokens>\d+(?:\.\d+)?[KMBT]?))?$"
)
_TRAINER = re.compile(r"^checkpoint-(?P<step>\d+)$")  # the Hugging Face Trainer's output_dir/checkpoint-N


@dataclass(frozen=True, order=False)
class Revision:
    """One branch of a model repository, ordered by training step with ``main`` last."""

    name: str
    step: int | None = None
    tokens: int | None = None
    stage: int | None = None  # OLMo-2's training stage (None: a single-stage family)
    ingredient: int | None = None  # OLMo-2's stage-2 data mix

    @property
    def is_main(self) -> bool:
        return self.name == MAIN

    @property
    def sort_key(self) -> tuple:
        # Numbered steps first (by stage, ingredient, step), then unparsed names (alphabetically), then main.
        return (self.is_main, self.step is None, self.stage or 0, self.ingredient or 0, self.step or 0, self.name)


_TOKENS = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMBT]?)$")


def revision_pattern(text: str, where: str) -> re.Pattern:
    """A pipeline's own revision-name pattern, checked: it compiles and has a ``step`` group."""
    try:
        pattern = re.compile(text)
    except re.error as err:
        raise TrajectoryError(f"{where}: not a regular expression ({err})") from None
    unknown = set(pattern.groupindex) - {"stage", "ingredient", "step", "tokens"}
    if "step" not in pattern.groupindex or unknown:
        raise TrajectoryError(
            f"{where}: needs a named group 'step' (and may have 'stage', 'ingredient', 'tokens'), got groups {sorted(pattern.groupindex) or 'none'}"
        )
    return pattern


MAX_STEP = 2**63 - 1  # the store keeps steps as 64-bit integers


def parse_revision(name: str, pattern: re.Pattern | None = None) -> Revision:
    """Parse stage, ingredient, step and token count from a branch name (``pattern`` first, then the
    built-in shapes); unknown shapes keep step=None."""
    match = pattern.fullmatch(name) if pattern is not None else None
    match = match or _STEP_TOKENS.match(name) or _TRAINER.match(name)
    if not match or match.groupdict().get("step") is None:
        return Revision(name)
    groups = match.groupdict()
    tokens = None
    if groups.get("tokens") is not None:
        amount = _TOKENS.match(groups["tokens"])
        tokens = round(float(amount["number"]) * _UNITS[amount["unit"]]) if amount else None
    stage, ingredient = (int(groups[g]) if groups.get(g) is not None else None for g in ("stage", "ingredient"))
    step = int(groups["step"])
    if step > MAX_STEP:  # beyond what the store's steps hold: a name, not a step
        return Revision(name)
    return Revision(name, step, tokens, stage, ingredient)


def order_revisions(names: list[str] | list[Revision], pattern: re.Pattern | None = None) -> list[Revision]:
    """Parse (if needed), de-duplicate and sort: by stage, ingredient and step, ``main`` last."""
    parsed = [r if isinstance(r, Revision) else parse_revision(r, pattern) for r in names]
    unique = {r.name: r for r in parsed}
    return sorted(unique.values(), key=lambda r: r.sort_key)


def select_revisions(spec: str | list[str], available: list[Revision]) -> list[Revision]:
    """Select revisions with a spec, returned in training order.

    The spec is a comma list (or a list) of items:
      ``all``                every available revision (``main`` included);
      ``main`` / a name      that revision;
      ``A:B`` / ``A:B:S``    revisions whose step is in A, A+S, ..., up to B inclusive (S defaults to 1
                             for "every step that exists");
      ``-X`` or ``!X``       exclude X, where X is any of the above.
    Exclusions apply after inclusions, whatever their position. An unknown name is an error that
    lists the nearest existing names.
    """
    items = [part.strip() for item in ([spec] if isinstance(spec, str) else spec) for part in item.split(",")]
    items = [s for s in items if s]
    if not items:
        raise TrajectoryError("empty revision selection; use 'all', names, or a step range like 5000:200000:5000")
    by_name = {r.name: r for r in available}
    included: dict[str, Revision] = {}
    excluded: set[str] = set()
    for item in items:
        negate = item[0] in "-!" and not _is_range(item)
        target = item[1:] if negate else item
        matched = _match_item(target, available, by_name)
        if negate:
            excluded.update(r.name for r in matched)
        else:
            included.update((r.name, r) for r in matched)
    chosen = [r for name, r in included.items() if name not in excluded]
    if not chosen:
        raise TrajectoryError(f"revision selection {','.join(items)!r} selects nothing")
    return order_revisions(chosen)


def _is_range(item: str) -> bool:
    return re.fullmatch(r"-?\d*:-?\d*(?::\d+)?", item) is not None and ":" in item


def _match_item(item: str, available: list[Revision], by_name: dict[str, Revision]) -> list[Revision]:
    if item == "all":
        return list(available)
    if _is_range(item):
        parts = item.split(":")
        start = int(parts[0]) if parts[0] else 0
        stop = int(parts[1]) if parts[1] else None
        stride = int(parts[2]) if len(parts) > 2 and parts[2] else 1
        if stride <= 0:
            raise TrajectoryError(f"step range {item!r}: the stride must be positive")
        return [
            r for r in available if r.step is not None and r.step >= start and (stop is None or r.step <= stop) and (r.step - start) % stride == 0
        ]
    if item in by_name:
        return [by_name[item]]
    raise TrajectoryError(unknown_revision_message(item, list(by_name)))


def unknown_revision_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:
        # Fall back to the names nearest in step, which is what a typo in a number usually means.
        wanted = parse_revision(name).step
        numbered = [parse_revision(k) for k in known if parse_revision(k).step is not None]
        if wanted is not None and numbered:
            close = [r.name for r in sorted(numbered, key=lambda r: abs(r.step - wanted))[:3]]
    hint = f"; nearest: {', '.join(close)}" if close else f"; {len(known)} revisions exist (see 'trajectory revisions')"
    return f"unknown revision {name!r}{hint}"
