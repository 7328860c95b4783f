"""Analyses: the identity of everything that shapes a store's numbers, and choosing among them.

An analysis is (model, probe set, τ, θ, FFN renormalisation, dtype). Its id is a hash of that identity,
so the same analysis has the same id in every store; its name is readable and unique within a store.
``sql/schema/002_analyses.sql`` computes both the same way for a migrated version-1 store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import duckdb
import polars as pl

from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.store.db import insert_frame

ALL = "all"
IDENTITY_NAMES = {"llm-tt": "study"}  # FFN renormalisations renamed since their analyses' ids were made


@dataclass(frozen=True)
class Analysis:
    model: str
    probe_set_id: str
    probe_set_name: str
    tau: float
    theta: float
    ffn_renormalisation: str = "per_position"
    dtype: str = "float32"

    @property
    def analysis_id(self) -> str:
        # "llm-tt" was first named "study": its analyses keep the ids they were stored under.
        ffn = IDENTITY_NAMES.get(self.ffn_renormalisation, self.ffn_renormalisation)
        identity = (self.model, self.probe_set_id, _nano(self.tau), _nano(self.theta), ffn, self.dtype)
        return hashlib.sha256("\x1f".join(identity).encode("utf-8")).hexdigest()[:12]

    @property
    def base_name(self) -> str:
        """``<repo name>/<probe set>/tau=<τ>/theta=<θ>``, plus the FFN mode and dtype where not the default."""
        name = f"{self.model.rsplit('/', 1)[-1]}/{self.probe_set_name}/tau={self.tau:g}/theta={self.theta:g}"
        if self.ffn_renormalisation != "per_position":
            name += f"/ffn={self.ffn_renormalisation}"
        return name + ("" if self.dtype == "float32" else f"/{self.dtype}")


def _nano(value: float) -> str:
    """τ and θ in the identity as integers of 1e-9, so float formatting never splits one analysis in two."""
    return str(round(value * 1e9))


def register(con: duckdb.DuckDBPyConnection, probes: ProbeSet, probe_name: str, analyses: list[Analysis]) -> dict[str, str]:
    """Insert the probe set, its facts and the analyses where new; return analysis_id -> name.

    Runs inside the caller's transaction. A probe set whose name another set in the store already has
    (different facts under the same name) is an error: its rows would be indistinguishable to a reader.
    """
    probe_set_id = probes.content_hash
    clash = con.execute("SELECT probe_set_id, n_facts FROM probe_sets WHERE name = ? AND probe_set_id <> ?", [probe_name, probe_set_id]).fetchall()
    if clash:
        raise TrajectoryError(
            f"probe set {probe_name!r} in this store holds other facts ({clash[0][1]} facts, id {clash[0][0]}); "
            "rename your probe file or set probe.name in the pipeline"
        )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    known = con.execute("SELECT name FROM probe_sets WHERE probe_set_id = ?", [probe_set_id]).fetchall()
    if known:
        probe_name = known[0][0]  # the same facts under another file name: one probe set, its first name
    else:
        con.execute("INSERT INTO probe_sets VALUES (?, ?, ?, ?)", [probe_set_id, probe_name, len(probes), now])
        facts = pl.DataFrame(
            {
                "probe_set_id": [probe_set_id] * len(probes),
                "fact_id": [f.fact_id for f in probes],
                "relation": [f.relation for f in probes],
                "subject": [f.subject for f in probes],
                "object": [f.object for f in probes],
                "template": [f.template for f in probes],
                "relation_type": [f.relation_type for f in probes],
            },
            schema_overrides={"fact_id": pl.Int32},
        )
        insert_frame(con, "facts", facts)
    names = {}
    for analysis in analyses:
        assert analysis.probe_set_id == probe_set_id
        row = con.execute("SELECT name FROM analyses WHERE analysis_id = ?", [analysis.analysis_id]).fetchall()
        if row:
            names[analysis.analysis_id] = row[0][0]
            continue
        name = replace(analysis, probe_set_name=probe_name).base_name
        if con.execute("SELECT 1 FROM analyses WHERE name = ?", [name]).fetchall():
            name = f"{name}#{analysis.analysis_id[:6]}"  # another model with the same repo name
        con.execute(
            "INSERT INTO analyses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                analysis.analysis_id,
                name,
                analysis.model,
                probe_set_id,
                analysis.tau,
                analysis.theta,
                analysis.ffn_renormalisation,
                analysis.dtype,
                now,
            ],
        )
        names[analysis.analysis_id] = name
    return names


def choose_one(con: duckdb.DuckDBPyConnection, spec: str | None, command: str) -> tuple[str, str]:
    """(analysis id, name) of the one analysis ``spec`` names (see :func:`choose`); anything else is an error saying
    which ``command`` needs one and listing the stored names."""
    chosen = choose(con, spec)
    if chosen.height != 1:
        names = ", ".join(chosen["name"].to_list()) or "none"
        raise TrajectoryError(f"{command} writes one analysis; pass --analysis with one of: {names}")
    return chosen["analysis_id"][0], chosen["name"][0]


def choose(con: duckdb.DuckDBPyConnection, spec: str | None) -> pl.DataFrame:
    """The analyses a reader works on: ``spec`` is ``all``, or comma-separated ids, id prefixes or names;
    None means each model's only analysis, or its latest (by creation). Rows of the ``analyses`` table
    with ``n_revisions``, in creation order. An unknown name is an error listing the stored ones.
    """
    stored = pl.from_arrow(
        con.sql("""
        SELECT a.*, p.name AS probe_set, (SELECT count(*) FROM revisions v WHERE v.analysis_id = a.analysis_id) AS n_revisions
        FROM analyses a LEFT JOIN probe_sets p USING (probe_set_id)
        ORDER BY a.created_at, a.name""").to_arrow_table()
    )
    if spec is None:
        with_rows = stored.filter(pl.col("n_revisions") > 0)
        return with_rows.group_by("model", maintain_order=True).last().select(stored.columns).sort("created_at", "name")
    if spec.strip() == ALL:
        return stored
    chosen: list[str] = []
    for word in (w.strip() for w in spec.split(",") if w.strip()):
        hits = stored.filter((pl.col("name") == word) | (pl.col("analysis_id") == word))
        if hits.is_empty() and len(word) >= 4:
            hits = stored.filter(pl.col("analysis_id").str.starts_with(word))
        if hits.height != 1:
            known = ", ".join(stored["name"].to_list()) or "none"
            what = "ambiguous" if hits.height > 1 else "unknown"
            raise TrajectoryError(f"{what} analysis {word!r}; stored: {known} ('trajectory analyses' lists them)")
        if hits["analysis_id"][0] not in chosen:
            chosen.append(hits["analysis_id"][0])
    return stored.filter(pl.col("analysis_id").is_in(chosen)).sort(
        pl.col("analysis_id").replace_strict({a: i for i, a in enumerate(chosen)}, return_dtype=pl.Int32)
    )


def describe_choice(con: duckdb.DuckDBPyConnection, chosen: pl.DataFrame) -> str:
    """One line saying which analyses a reader used, and how many more the store holds."""
    stored_total = con.sql("SELECT count(*) FROM analyses").fetchall()[0][0]
    names = ", ".join(f"{n} ({i})" for n, i in zip(chosen["name"], chosen["analysis_id"])) or "none with stored revisions"
    others = stored_total - chosen.height
    hint = f"; {others} more stored (--analysis NAME or --analysis all)" if others > 0 else ""
    return f"analysis: {names}{hint}"
