"""Dashboards: every figure's numbers against a hand-made store whose roles are known, page output, CLI."""

from __future__ import annotations

import os
import re
import struct

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest
from synthetic_store import (
    FACTS,
    HEADS,
    LAYERS,
    MODEL,
    RELATIONS,
    REVISIONS,
    ffn_role,
    head_role,
    top1,
    write_synthetic_store,
)

from trajectory.cli import main
from trajectory.dashboard.build import analysis_context, build_dashboards, build_figure, resolve_flow_revisions, stored_analyses
from trajectory.dashboard.page import plotly_js
from trajectory.dashboard.spec import load_dashboard, load_dashboards
from trajectory.errors import TrajectoryError
from trajectory.roles.scores import ROLES
from trajectory.store.db import reader

NAMES = [r[0] for r in REVISIONS]
N_REV = len(REVISIONS)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_synthetic_store(tmp_path_factory.mktemp("dashboard") / "synthetic.duckdb")


@pytest.fixture(scope="module")
def figures(store):
    spec = next(s for s in load_dashboards() if s.name == "training")
    with reader(store) as con:
        (summary,) = stored_analyses(con)
        context = analysis_context(summary)
        return {f.id: go.Figure(build_figure(con, f, context)) for f in spec.figures}


def strongest(k: int, layer: int, head: int) -> str:
    return min((head_role(k, r, layer, head) for r in range(len(RELATIONS))), key=ROLES.index)


def menu_args(fig, label_prefix: str) -> dict[str, list]:
    (menu,) = [m for m in fig.layout.updatemenus if m.buttons[0].label.startswith(label_prefix)]
    return {b.label.split(": ", 1)[1]: b.args for b in menu.buttons}


def test_role_counts_match_the_roles_and_add_up(figures):
    fig = figures["role-counts"]
    order = [(t.xaxis, t.name) for t in fig.data]  # no intervals stored here: lines only, no bands
    assert order == [(axis, r) for axis in ("x", "x2") for r in ROLES]
    by_relation = menu_args(fig, "relation")
    assert list(by_relation) == ["all relations", "city in country", "company ceo"]
    for args in by_relation.values():
        ys = args[0]["y"]
        for k in range(N_REV):
            assert sum(ys[i][k] for i in range(len(ROLES))) == LAYERS * HEADS  # heads add up
            assert sum(ys[i][k] for i in range(len(ROLES), 2 * len(ROLES))) == LAYERS  # FFNs add up
    ys = by_relation["all relations"][0]["y"]
    for k in range(N_REV):
        for i, role in enumerate(ROLES):
            expected = sum(strongest(k, l, h) == role for l in range(LAYERS) for h in range(HEADS))
            assert ys[i][k] == expected, (k, role)
    ceo = by_relation["company ceo"][0]["y"]
    assert ceo[ROLES.index("fact")][2] == sum(head_role(2, 1, l, h) == "fact" for l in range(LAYERS) for h in range(HEADS))
    # x: steps from the names, main one spacing after the last step; tokens likewise.
    x_choice = menu_args(fig, "x")
    assert list(fig.data[0].x) == [100, 200, 300, 400]
    assert x_choice["tokens"][0]["x"][0] == [1000, 2000, 3000, 4000]
    assert x_choice["tokens"][1]["xaxis.title.text"] == "tokens seen"
    # main has no step: drawn last, and the figure says so rather than passing 400 off as its step.
    (note,) = [a.text for a in fig.layout.annotations if a.name == "step-unknown"]
    assert note.startswith("main: step unknown, drawn last")


def test_iou_is_one_at_the_final_revision(figures):
    fig = figures["role-iou"]
    for trace in fig.data:
        final = trace.y[-1]
        assert final is None or final == 1.0
    # Heads that are facts for company_ceo: a known set per revision.
    ceo = menu_args(fig, "relation")["company ceo"][0]
    names = [t.name for t in fig.data]
    fact_line = ceo["y"][names.index("fact")]  # heads come first
    final = {(l, h) for l in range(LAYERS) for h in range(HEADS) if head_role(N_REV - 1, 1, l, h) == "fact"}
    for k in range(N_REV):
        here = {(l, h) for l in range(LAYERS) for h in range(HEADS) if head_role(k, 1, l, h) == "fact"}
        union = here | final
        assert fact_line[k] == (len(here & final) / len(union) if union else None)


def test_transition_heatmap_pairs_and_pool(figures):
    fig = figures["role-transitions"]
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["all pairs pooled"] + [f"{a} → {b}" for a, b in zip(NAMES, NAMES[1:])]

    def expected(pairs: list[int]) -> list[list]:
        counts = [[0] * len(ROLES) for _ in ROLES]
        for k in pairs:
            for r in range(len(RELATIONS)):
                for l in range(LAYERS):
                    for h in range(HEADS):
                        counts[ROLES.index(head_role(k, r, l, h))][ROLES.index(head_role(k + 1, r, l, h))] += 1
        return [[c / sum(row) for c in row] if sum(row) else [None] * len(ROLES) for row in counts]

    for step, pairs in zip(slider.steps, [list(range(N_REV - 1))] + [[k] for k in range(N_REV - 1)]):
        z_heads = step.args[0]["z"][0]
        want = expected(pairs)
        for a in range(len(ROLES)):
            for b in range(len(ROLES)):
                assert (z_heads[a][b] is None) == (want[a][b] is None)
                if want[a][b] is not None:
                    assert z_heads[a][b] == pytest.approx(want[a][b])
    # Undefined rows are blank, not zero: at the first pair no FFN is a fact.
    z_ffns = slider.steps[1].args[0]["z"][1]
    assert z_ffns[ROLES.index("fact")] == [None] * len(ROLES)
    assert z_ffns[ROLES.index("deactivated")][ROLES.index("relation")] == 1.0


def test_role_grid_per_relation_and_revision_with_scores(figures):
    fig = figures["role-grid"]
    grids = [t for t in fig.data if t.type == "heatmap"]
    assert [t.name for t in grids] == ["all relations", "city in country", "company ceo"]
    assert [t.visible for t in grids] == [True, False, False]
    assert list(grids[0].x) == [f"H{h}" for h in range(HEADS)] + ["FFN"]
    assert all(g.meta["link"] == "components.html#view:component=L{y}{x}" for g in grids)
    (slider,) = fig.layout.sliders
    assert slider.active == N_REV - 1 and [s.label for s in slider.steps] == NAMES
    for k, step in enumerate(slider.steps):
        zs, names, details = step.args[0]["z"], step.args[0]["text"], step.args[0]["customdata"]
        for l in range(LAYERS):
            assert zs[0][l][:HEADS] == [ROLES.index(strongest(k, l, h)) for h in range(HEADS)]
            for r in range(len(RELATIONS)):
                assert zs[1 + r][l][:HEADS] == [ROLES.index(head_role(k, r, l, h)) for h in range(HEADS)]
                assert zs[1 + r][l][HEADS] == ROLES.index(ffn_role(k, r, l))
            general, entity, *_ = details[1][l][0]
            assert names[1][l][0] == head_role(k, 0, l, 0)
            assert general == pytest.approx(0.1 * (k + 1) + 0.01 * (l * HEADS)) and entity == pytest.approx(general / 2)
    assert [list(row) for row in grids[0].z] == slider.steps[-1].args[0]["z"][0]  # drawn at the final revision


def test_accuracy_per_relation_type(figures):
    fig = figures["accuracy"]
    means = {t.name: list(t.y) for t in fig.data if t.name.startswith("all ") and t.xaxis == "x"}
    for kind in ("location", "name"):
        facts = [f for f, rel in FACTS if RELATIONS[rel] == kind]
        assert means[f"all {kind} facts"] == [sum(top1(k, f) for f in facts) / len(facts) for k in range(N_REV)]


def test_sankey_flows_between_first_middle_last(figures):
    fig = figures["role-flows"]
    stages = [a.text.strip("<b>/") for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert stages == [NAMES[0], NAMES[N_REV // 2], NAMES[-1]]
    heads_all = fig.data[0]
    assert heads_all.visible is True and sum(heads_all.link.value) == LAYERS * HEADS * 2
    labels = list(heads_all.node.label)
    flows = {
        (labels[s], labels[t], heads_all.node.customdata[s]): v for s, t, v in zip(heads_all.link.source, heads_all.link.target, heads_all.link.value)
    }
    k0, k1 = 0, N_REV // 2
    n = sum(strongest(k0, l, h) == "general" and strongest(k1, l, h) == "entity" for l in range(LAYERS) for h in range(HEADS))
    assert flows.get(("general", "entity", NAMES[k0]), 0) == n


def test_sankey_draws_heads_and_ffns_to_one_scale():
    """4 FFNs are not drawn as tall as 64 heads: each kind's share of the height follows its count (issue #38)."""
    from trajectory.dashboard.role_maps import _kind_domains

    frame = pl.DataFrame({"relation": ["*"] * 3, "kind": ["head", "head", "ffn"], "from_stage": [1, 1, 1], "n": [40, 24, 4]})
    domains = _kind_domains(frame, ["head", "ffn"])
    head, ffn = (domains[k][1] - domains[k][0] for k in ("head", "ffn"))
    assert domains["ffn"][0] == 0 and domains["head"][1] == 0.94 and domains["head"][0] > domains["ffn"][1]
    assert head / 64 == pytest.approx(ffn / 4)
    tiny = _kind_domains(frame.with_columns(n=pl.Series([400, 240, 1])), ["head", "ffn"])
    assert tiny["ffn"][1] == 0.05  # at least legible


def test_a_figure_whose_values_span_decades_gets_a_linear_log_choice():
    """Item 7 of issue #38: positive line values over two decades or more (ranks, losses) -> a y menu; else none."""
    import numpy as np
    import plotly.graph_objects as go

    from trajectory.dashboard.controls import scale_menu

    ranks = go.Figure([go.Scatter(y=np.array([1.0, 3.0, 250.0])), go.Scatter(y=[None, 2, 400], yaxis="y2")]).to_dict()  # typed arrays too
    menu = scale_menu(ranks)
    assert [b["label"] for b in menu["buttons"]] == ["y: linear", "y: log"] and menu["active"] == 0
    assert menu["buttons"][1]["args"] == [{"yaxis.type": "log", "yaxis2.type": "log"}]
    ranks["layout"]["yaxis"] = {"type": "log"}
    assert scale_menu(ranks)["active"] == 0  # one of its axes is linear
    ranks["layout"]["yaxis2"] = {"type": "log"}
    assert scale_menu(ranks)["active"] == 1
    assert scale_menu(go.Figure(go.Scatter(y=[0.2, 0.9, 5.0])).to_dict()) is None  # under two decades
    assert scale_menu(go.Figure(go.Scatter(y=[0, 1, 1000])).to_dict()) is None  # zero: no log axis
    loss_and_top1 = go.Figure([go.Scatter(y=[6.0, 0.5, 0.04]), go.Scatter(y=[0.0, 0.5, 1.0], yaxis="y2")]).to_dict()
    assert scale_menu(loss_and_top1)["buttons"][1]["args"] == [{"yaxis.type": "log"}]  # the loss's axis alone
    assert scale_menu(go.Figure(go.Heatmap(z=[[1, 1000]])).to_dict()) is None


def test_flow_revisions():
    names = tuple(NAMES)
    assert resolve_flow_revisions(None, names) == (NAMES[0], NAMES[2], NAMES[3])
    assert resolve_flow_revisions(["main", "first"], names) == (NAMES[0], "main")
    with pytest.raises(TrajectoryError, match="unknown revision 'step250'; nearest"):
        resolve_flow_revisions(["step250", "main"], names)
    with pytest.raises(TrajectoryError, match="at least two"):
        resolve_flow_revisions(["main", "last"], names)


def test_definitions_are_validated(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\n[[figures]]\nid = "a"\nchart = "pie"\nquery = "accuracy"\ntitle = "x"\n')
    with pytest.raises(TrajectoryError, match="chart 'pie' is not one of"):
        load_dashboard(bad)
    bad.write_text('title = "t"\ncolour = "red"\nfigures = []\n')
    with pytest.raises(TrajectoryError, match="unknown key colour"):
        load_dashboard(bad)
    bad.write_text('title = "t"\n[[figures]]\nid = "a"\nchart = "role_areas"\nquery = "nope"\ntitle = "x"\n')
    with pytest.raises(TrajectoryError, match="no file"):
        load_dashboard(bad)


def test_pages_are_self_contained_and_written_whole(store, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "dashboard", "--db", str(store), "--out", str(out)]) == 0
    page = out / "m--synthetic" / "facts-tau0.01-theta0.1" / "training.html"
    assert f"open {out / 'index.html'}" in capsys.readouterr().out
    text = page.read_text()
    # plotly.js once per output folder, loaded by a relative path: the page opens offline, and carries no copy.
    assert (out / "plotly.min.js").read_text() == plotly_js() and plotly_js() not in text
    assert re.findall(r'<script[^>]* src="([^"]+)"', text) == ["../../plotly.min.js"]
    assert "http" not in text
    assert 'pages: <a href="../../index.html">index</a>' in text  # the index and the sibling pages are linked
    for figure in next(s for s in load_dashboards() if s.name == "training").figures:
        assert f'id="{figure.id}"' in text
    assert 'href="m--synthetic/facts-tau0.01-theta0.1/training.html"' in (out / "index.html").read_text()
    # no partial files
    assert sorted(p.name for p in out.rglob("*")) == [
        ".trajectory-dashboards",
        "components.html",
        "facts-tau0.01-theta0.1",
        "index.html",
        "m--synthetic",
        "plotly.min.js",
        "training.html",
    ]
    assert main(["-q", "dashboard", "--db", str(store), "--out", str(out), "--flows", "step1"]) == 2
    assert capsys.readouterr().err.startswith("error: --flows: unknown revision 'step1'")
    assert main(["-q", "dashboard", "--db", str(tmp_path / "none.duckdb")]) == 2


def test_a_page_title_joins_the_question_and_the_analysis_without_punctuation_clashing(tmp_path):
    """A page's title is a question ("… needed?"): the analysis follows after " · ", never as "needed?: name"."""
    from synthetic_store import write_synthetic_ablations

    db = write_synthetic_store(tmp_path / "titles.duckdb")
    write_synthetic_ablations(db)  # for the causal page
    pages = build_dashboards(db, tmp_path / "out", progress=False)
    for page in pages:
        title = re.search(r"<title>(.*?)</title>", page.read_text()).group(1)
        assert not re.search(r"[?:]: ", title), title
    causal = next(p for p in pages if p.name == "causal.html")
    assert re.search(r"<h1>Causal checks: are the circuits and roles needed\? · ", causal.read_text())


def test_store_written_by_older_version_is_read_through_current_views(store, tmp_path):
    old = tmp_path / "old.duckdb"
    old.write_bytes(store.read_bytes())
    con = duckdb.connect(str(old))
    con.execute("DROP VIEW strongest_roles")
    con.execute("DROP VIEW revision_axis")
    con.close()
    with reader(old) as con:
        assert con.sql("SELECT count(*) FROM strongest_roles").fetchall()[0][0] == N_REV * LAYERS * (HEADS + 1)
    assert MODEL in build_dashboards(old, tmp_path / "out", progress=False)[1].parent.parent.name.replace("--", "/")


def test_dashboard_of_an_ingested_reference(small_store, tmp_path):
    """End to end on the real pipeline's output: every component counted once per revision."""
    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    # In the order a reader takes them, after the index.
    assert [p.name for p in pages] == [
        "index.html",
        "training.html",
        "routes.html",
        "components.html",
        "causal.html",
        "grafting.html",
        "extractive.html",
    ]
    with reader(small_store) as con:
        (summary,) = stored_analyses(con)
        spec = next(s for s in load_dashboards() if s.name == "training")
        counts = go.Figure(build_figure(con, next(f for f in spec.figures if f.id == "role-counts"), analysis_context(summary)))
        n_heads = con.sql("SELECT count(DISTINCT (layer, head)) FROM roles WHERE kind = 'head'").fetchall()[0][0]
    heads = [t for t in counts.data if t.xaxis == "x" and t.fill != "toself"]  # the heads panel's lines, not bands
    assert [sum(t.y[k] for t in heads) for k in range(len(summary.revisions))] == [n_heads] * len(summary.revisions)
    assert not [a for a in counts.layout.annotations if a.name == "step-unknown"]  # the reference publishes main's step


def test_serve_answers_with_the_same_pages(store, tmp_path):
    import subprocess
    import sys
    import urllib.request

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "serve", "--db", str(store), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving the dashboards of"), line
        url = line.split(" at ")[1].split()[0]
        index = urllib.request.urlopen(url, timeout=30).read().decode()
        assert 'href="m--synthetic/facts-tau0.01-theta0.1/training.html"' in index
        page = urllib.request.urlopen(url + "m--synthetic/facts-tau0.01-theta0.1/training.html", timeout=30).read().decode()
        assert 'id="role-grid"' in page and 'src="../../plotly.min.js"' in page  # plotly.js once per folder, not per page
        assert urllib.request.urlopen(url + "plotly.min.js", timeout=30).read().decode() == plotly_js()
        assert [p.name.startswith("trajectory-serve-") for p in temporary.iterdir()] == [True]
    finally:
        proc.terminate()  # SIGTERM: the server removes its temporary folder on the way out, as on Ctrl-C
        proc.wait(timeout=10)
    assert list(temporary.iterdir()) == []


def test_a_single_revision_says_what_is_missing(store, tmp_path):
    one = tmp_path / "one.duckdb"
    one.write_bytes(store.read_bytes())
    con = duckdb.connect(str(one))
    for table in ("roles", "accuracy", "component_scores", "revisions"):
        con.execute(f"DELETE FROM {table} WHERE revision <> 'main'")
    con.close()
    spec = next(s for s in load_dashboards() if s.name == "training")
    with reader(one) as con:
        (summary,) = stored_analyses(con)
        context = analysis_context(summary)
        built = {f.id: build_figure(con, f, context) for f in spec.figures}
    for figure_id in ("role-transitions", "role-flows"):
        assert built[figure_id]["data"] == []
        assert "at least two stored revisions" in built[figure_id]["layout"]["annotations"][0]["text"]
    assert [p.name for p in build_dashboards(one, tmp_path / "out", progress=False)] == ["index.html", "training.html", "components.html"]


def test_a_band_breaks_where_a_revision_has_no_interval():
    """Issue #38 item 6: a band drawn across revisions with no interval joined the runs on either side into a wedge
    that looked like data; each run of rows with an interval is now its own closed outline."""
    from trajectory.dashboard.controls import band_frame

    part = pl.DataFrame({"x_step": [1, 2, 3, 4, 5, 6], "low": [0.1, 0.2, None, 0.4, None, 0.6], "high": [0.3, 0.4, None, 0.6, None, 0.8]})
    band = band_frame(part, "low", "high")
    pieces, piece = [], []
    for x, y in zip(band["x_step"].to_list(), band["band"].to_list()):
        if x is None:
            pieces.append(piece)
            piece = []
        else:
            piece.append((x, y))
    pieces.append(piece)
    assert pieces == [[(1, 0.3), (2, 0.4), (2, 0.2), (1, 0.1)], [(4, 0.6), (4, 0.4)], [(6, 0.8), (6, 0.6)]]
    assert band_frame(part.filter(pl.col("low").is_not_null()), "low", "high")["x_step"].null_count() == 0
    assert band_frame(part.with_columns(low=pl.lit(None, pl.Float64)), "low", "high").is_empty()


@pytest.mark.slow
def test_serve_survives_disconnects_malformed_requests_and_other_sites(store, tmp_path):
    """Issue #39 item 3: serve answers a malformed request with one line (400) and goes on; a client that leaves
    mid-answer or sends less than it announced does not stop it; /api/* answers only its own pages (Host, Origin);
    it listens on this machine only unless told otherwise."""
    import json
    import socket
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "serve", "--db", str(store), "--port", "0", "--request-timeout", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        port = int(line.split(" at ")[1].split()[0].rstrip("/").rsplit(":", 1)[1])

        def ask(raw: bytes, wait: float = 30) -> tuple[int, str]:
            with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
                s.sendall(raw)
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            return int(head.split()[1]), body.decode()

        def post(body: bytes, host: str = f"127.0.0.1:{port}", extra: str = "") -> tuple[int, str]:
            return ask(
                f"POST /api/trace HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )

        get = lambda path, host=f"127.0.0.1:{port}": ask(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())  # noqa: E731
        assert get("/%00") == (400, json.dumps({"error": "the address holds a NUL character"}))
        for body, said in [
            (b"{not json", "the request is not JSON"),
            (b"[1, 2]", "the request must be a JSON object"),
            (b'{"prompt": "\\ud800"}', "not valid Unicode"),
            (b'{"prompt": 3}', "must be text"),
            (b"\xff\xfe", "the request is not JSON"),
        ]:
            status, text = post(body)
            assert status == 400 and said in json.loads(text)["error"], (body, text)
        assert post(b"{}", host=f"attacker.example:{port}")[0] == 403  # a name rebound to 127.0.0.1
        assert post(b"{}", extra="Origin: http://attacker.example\r\n")[0] == 403  # another site's page
        assert get("/api/routes/x/1/2", host="attacker.example")[0] == 403
        # A client that announces more than it sends holds only its own connection, and is dropped after a while.
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(f"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 1000\r\n\r\n{{".encode())
        started = time.monotonic()
        assert get("/")[0] == 200
        slow.settimeout(30)
        answer = slow.recv(65536)
        assert b" 408 " in answer and b"did not arrive within 2 s" in answer and 1.5 < time.monotonic() - started < 25
        slow.close()
        for _ in range(3):  # clients that leave before the answer (plotly.js: megabytes) are the clients' business
            leaving = socket.create_connection(("127.0.0.1", port))
            leaving.sendall(f"GET /plotly.min.js HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            leaving.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, not a goodbye
            leaving.close()
        time.sleep(0.5)
        assert get("/")[0] == 200 and proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    for host in ("0.0.0.0", ""):
        done = subprocess.run([sys.executable, "-m", "trajectory", "serve", "--db", str(store), "--host", host], capture_output=True, text=True)
        assert done.returncode != 0 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: --host"), done.stderr


def test_dashboard_never_writes_over_a_folder_of_the_users(store, tmp_path, capsys):
    """Issue #39 item 2: --out into a folder holding the user's own index.html is refused in one line and the file
    kept; a folder the dashboards were written to before is written again."""
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "index.html").write_text("<html>my own site</html>")
    assert main(["dashboard", "--db", str(store), "--out", str(mine)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {mine} holds files trajectory did not write; pass an empty or new --out"
    assert (mine / "index.html").read_text() == "<html>my own site</html>" and len(list(mine.iterdir())) == 1
    out = tmp_path / "pages"
    assert main(["dashboard", "--db", str(store), "--out", str(out)]) == 0
    assert main(["dashboard", "--db", str(store), "--out", str(out)]) == 0  # its own folder: rebuilt


def test_the_ocr_curve_counts_ranks_from_one_as_every_page_does():
    """Issue #38 item 6: one rank convention, 1 = top, on every page: the store's 0-based ranks (and chance) shifted."""
    from trajectory.dashboard.controls import ChartContext
    from trajectory.dashboard.extractive import ocr_lines

    frame = pl.DataFrame(
        {
            "hop": ["first", "first"],
            "ordinal": [0, 1],
            "revision": ["a", "b"],
            "x_step": [1.0, 2.0],
            "x_tokens": [10.0, 20.0],
            "n_probes": [5, 5],
            "implication_rank": [0.0, 2.5],
            "fact_rank": [0.0, 1.0],
            "implication_rank_before": [3.0, 3.0],
            "chance": [4.5, 4.5],
            "implication_rank_lower": [0.0, 2.0],
            "implication_rank_upper": [0.5, 3.0],
        }
    )
    fig = ocr_lines(frame, ChartContext("m", ("a", "b")))
    drawn = {t.name: list(t.y) for t in fig.data if t.fill is None}
    assert drawn["first hop: implications"] == [1.0, 3.5] and drawn["first hop: chance"] == [5.5, 5.5]
    assert drawn["first hop: new facts"] == [1.0, 2.0] and "(1 = top)" in fig.layout.yaxis.title.text


def test_a_page_never_writes_p_as_zero():
    """Issue #38 item 6: a p that rounds to nothing (McNemar on hundreds of pairs) read "p = 0" on the grafting page."""
    from trajectory.dashboard.style import p_text

    assert p_text(0.0) == "p < 0.001" and p_text(2e-12, "BH-adjusted p") == "BH-adjusted p < 0.001"
    assert p_text(0.0333) == "p = 0.033" and p_text(0.001) == "p = 0.001"
