"""``trajectory serve``: the same static pages over local HTTP, rebuilt when the store changes."""

from __future__ import annotations

import errno
import functools
import http.server
import json
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import unquote

from trajectory.dashboard.build import build_dashboards
from trajectory.errors import TrajectoryError, describe_failure


class _Pages:
    """Pages built into a private folder; rebuilt on a request after the store file changed."""

    def __init__(self, db: Path, folder: Path, analysis: str | None, flows: list[str] | None) -> None:
        self.db, self.folder, self.analysis, self.flows = db, folder, analysis, flows
        self.lock = threading.Lock()
        self.built_for: float | None = None

    def refresh(self, say: Callable[[str], None] = lambda line: None) -> None:
        with self.lock:
            try:
                stamp = self.db.stat().st_mtime
            except FileNotFoundError:
                raise TrajectoryError(f"the store {self.db} is gone (deleted or moved); serving the pages as they were") from None
            if stamp != self.built_for:
                build_dashboards(self.db, self.folder, analysis=self.analysis, flows=self.flows, progress=False, say=say)
                self.built_for = stamp


def _stored_analyses(db: Path) -> dict[str, dict]:
    """analysis_id -> what tracing your own prompt needs: model, τ, FFN renormalisation, dtype, revisions, pipeline."""
    from trajectory.store.db import reader

    with reader(db) as con:
        rows = con.sql("""
            SELECT a.analysis_id, a.model, a.tau, a.ffn_renormalisation, a.dtype,
                   (SELECT list(v.revision ORDER BY v.ordinal) FROM revisions v WHERE v.analysis_id = a.analysis_id) AS revisions,
                   (SELECT arg_max(r.pipeline, r.started_at) FROM runs r WHERE r.analysis_id = a.analysis_id) AS pipeline
            FROM analyses a""").fetchall()
    return {r[0]: {"model": r[1], "tau": r[2], "ffn_renormalisation": r[3], "dtype": r[4], "revisions": r[5] or [], "pipeline": r[6]} for r in rows}


def route_answer(db: Path, path: str) -> tuple[int, dict | str]:
    """``/api/routes/<analysis>/<fact>/<ordinal>``: one fact's edges at one revision, as the routes page embeds them."""
    from trajectory.dashboard.routes_page import fact_edges
    from trajectory.store.db import reader

    parts = [unquote(p) for p in path.split("?")[0].split("/")[3:]]
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return 404, "expected /api/routes/<analysis>/<fact>/<ordinal>"
    analysis_id, fact, ordinal = parts[0], int(parts[1]), int(parts[2])
    with reader(db) as con:
        names = con.execute("SELECT revision FROM revisions WHERE analysis_id = ? AND ordinal = ?", [analysis_id, ordinal]).fetchall()
        if not names:
            return 404, f"no revision {ordinal} in analysis {analysis_id}"
        edges = fact_edges(con, analysis_id, [names[0][0]]).get(f"{fact}|{names[0][0]}")
    if edges is None:
        return 404, f"no route graph of fact {fact} at {names[0][0]}"
    return 200, edges


def serve(db: Path, host: str, port: int, analysis: str | None, flows: list[str] | None) -> None:
    from trajectory.dashboard.own_prompt import PromptTracer

    with tempfile.TemporaryDirectory(prefix="trajectory-serve-") as folder:
        pages = _Pages(Path(db), Path(folder), analysis, flows)
        chosen: list[str] = []
        pages.refresh(say=chosen.append)  # fail here, with the CLI's one-line error, rather than on the first request
        tracer = PromptTracer(_stored_analyses(Path(db)))

        class Handler(http.server.SimpleHTTPRequestHandler):
            def _json(self, status: int, body: dict | str) -> None:
                payload = json.dumps(body if status == 200 else {"error": body}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/api/trace":
                    self._json(404, "unknown address")
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > 100_000:
                        raise TrajectoryError("the request is too large")
                    asked = json.loads(self.rfile.read(length) or b"{}")
                    self._json(200, tracer.trace(str(asked.get("analysis", "")), str(asked.get("revision", "")), str(asked.get("prompt", ""))))
                except TrajectoryError as err:
                    self._json(400, str(err))
                except Exception as err:  # noqa: BLE001 - the page shows one line, never a stack trace
                    self._json(500, describe_failure(err))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/api/routes/"):
                    try:
                        self._json(*route_answer(Path(db), self.path))
                    except Exception as err:  # noqa: BLE001
                        self._json(500, describe_failure(err))
                    return
                if self.path.split("?")[0].endswith(("/", ".html")):
                    try:
                        pages.refresh()
                    except TrajectoryError as err:  # e.g. an ingest is writing: serve the pages as they were
                        print(f"warning: pages not rebuilt: {err}", file=sys.stderr, flush=True)
                    except Exception as err:  # noqa: BLE001 - a damaged store: one line, never a traceback per request
                        print(f"warning: pages not rebuilt: {describe_failure(err)}", file=sys.stderr, flush=True)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: one line per request drowns the URL the user needs

        try:
            server = http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=folder))
        except OSError as err:
            raise TrajectoryError(f"cannot serve on {host}:{port}: {_bind_advice(err)}") from None
        print(f"serving the dashboards of {db} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        print(*chosen, sep="\n", flush=True)
        # SIGTERM ends the server as Ctrl-C does, so the temporary folder is removed on the way out.
        previous = signal.signal(signal.SIGTERM, _raise_interrupt) if threading.current_thread() is threading.main_thread() else None
        try:
            server.serve_forever()
        finally:
            server.server_close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _bind_advice(err: OSError) -> str:
    """What to change when the server cannot listen: the port, the host, or the privileges."""
    if err.errno == errno.EADDRINUSE:
        return "the port is in use; pick another --port (0: any free one)"
    if err.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's; use --host 127.0.0.1 (the default)"
    if err.errno == errno.EACCES:
        return "ports below 1024 need privileges; pick another --port (0: any free one)"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({err.strerror}); use --host 127.0.0.1 (the default)"
    return f"{err.strerror or err}"
