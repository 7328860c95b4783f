"""Are two stores the same for a user? Every table and every view, row for row, apart from the columns that say
when and how long (timestamps, seconds, run ids) — e.g. the first command's store before and after a refactor.

    python benchmarks/compare_stores.py BEFORE.duckdb AFTER.duckdb [--out results/store_equality.json]

Rows are compared as sorted multisets of their values (floats rounded to 12 significant digits); prints one line
per table or view that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

RESULTS = Path(__file__).parent / "results"
# When and how long, not what: these differ between any two runs.
VOLATILE = {"seconds", "ingested_at", "last_ingested_at", "finished_at", "started_at", "created_at", "run_id", "applied_at", "versions", "hash"}


def relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """name -> 'table' or 'view' of the store's main schema."""
    rows = con.sql("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    return {name: "view" if kind == "VIEW" else "table" for name, kind in rows}


def canonical_rows(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    # A view is listed twice where the store holds it and a reader added this version's as a temporary one: once each.
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = ? GROUP BY column_name ORDER BY min(ordinal_position)",
            [name],
        ).fetchall()
        if c not in VOLATILE
    ]
    if not columns:
        return []
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = con.sql(f'SELECT {quoted} FROM "{name}"').fetchall()
    return sorted((tuple(_value(v) for v in row) for row in rows), key=repr)


def _value(v: object) -> float | str:
    """Floats to 12 significant digits (NaN as a string, so that it equals itself); everything else as text."""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else float(f"{v:.12g}")
    return str(v)


def compare(before: Path, after: Path) -> dict:
    from trajectory.store.db import reader

    with reader(before) as a, reader(after) as b:
        names_a, names_b = relations(a), relations(b)
        result = {
            "before": str(before),
            "after": str(after),
            "only_before": sorted(set(names_a) - set(names_b)),
            "only_after": sorted(set(names_b) - set(names_a)),
            "differ": [],
            "equal": 0,
            "rows": 0,
        }
        for name in sorted(set(names_a) & set(names_b)):
            rows_a, rows_b = canonical_rows(a, name), canonical_rows(b, name)
            if rows_a != rows_b:
                result["differ"].append(
                    f"{names_a[name]} {name}: {len(rows_a)} rows before, {len(rows_b)} after, "
                    f"{len(set(rows_a) ^ set(rows_b))} distinct rows in one only"
                )
            else:
                result["equal"] += 1
                result["rows"] += len(rows_a)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    result = compare(args.before, args.after)
    for line in result["differ"]:
        print(f"differs: {line}")
    for side in ("only_before", "only_after"):
        if result[side]:
            print(f"{side.replace('_', ' ')}: {', '.join(result[side])}")
    print(f"{result['equal']} tables and views equal row for row ({result['rows']} rows), {len(result['differ'])} differ")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if result["differ"] or result["only_before"] or result["only_after"] else 0


if __name__ == "__main__":
    sys.exit(main())
