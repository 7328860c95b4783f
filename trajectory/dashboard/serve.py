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


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_host(host: str, allow_remote: bool) -> None:
    """serve listens on this machine only unless told otherwise: the store, and tracing with its models, would be
    open to the network."""
    if not host.strip():
        raise TrajectoryError("--host is empty; use 127.0.0.1 (the default) or name an address")
    if host not in LOOPBACK and not allow_remote:
        raise TrajectoryError(
            f"--host {host} would serve the store to other machines (and let them trace prompts with its models); "
            "add --allow-remote if you mean it, or use 127.0.0.1"
        )


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-answer is its own business: no traceback, the server goes on."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(f"warning: a request failed: {describe_failure(error)}", file=sys.stderr, flush=True)


def serve(
    db: Path,
    host: str,
    port: int,
    analysis: str | None,
    flows: list[str] | None,
    allow_remote: bool = False,
    *,
    request_timeout: float,
) -> None:
    from trajectory.dashboard.own_prompt import PromptTracer

    check_host(host, allow_remote)
    if host not in LOOPBACK:
        print(f"warning: serving on {host}: every machine that reaches it can read the store and trace prompts", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="trajectory-serve-") as folder:
        pages = _Pages(Path(db), Path(folder), analysis, flows)
        chosen: list[str] = []
        pages.refresh(say=chosen.append)  # fail here, with the CLI's one-line error, rather than on the first request
        tracer = PromptTracer(_stored_analyses(Path(db)))

        class Handler(http.server.SimpleHTTPRequestHandler):
            timeout = request_timeout

            def _ours(self) -> bool:
                """A request from this server's own pages: its Host names this server (not a name rebound to it), and a
                POST comes from its origin (not from another site the browser visits)."""
                listening = self.server.server_address[1]
                named = self.headers.get("Host", "")
                if host in LOOPBACK and named not in {f"{name}:{listening}" for name in (*LOOPBACK, "[::1]")}:
                    return False
                origin = self.headers.get("Origin")
                return self.command != "POST" or origin is None or origin == f"http://{named}"

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
                if not self._ours():
                    self._json(403, "only this server's own pages may trace (Host or Origin is another site's)")
                    return
                try:
                    asked = self._request_json()
                    fields = [asked.get(key, "") for key in ("analysis", "revision", "prompt")]
                    if not all(isinstance(value, str) for value in fields):
                        raise TrajectoryError("analysis, revision and prompt must be text")
                    self._json(200, tracer.trace(*fields))
                except TimeoutError:
                    self._json(408, f"the request's body did not arrive within {request_timeout:g} s")
                except TrajectoryError as err:
                    self._json(400, str(err))
                except Exception as err:  # noqa: BLE001 - the page shows one line, never a stack trace
                    self._json(500, describe_failure(err))

            def _request_json(self) -> dict:
                """The POST body as a JSON object; a malformed one is the client's mistake (400), said in one line."""
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    raise TrajectoryError("Content-Length is not a number") from None
                if not 0 <= length <= 100_000:
                    raise TrajectoryError("the request is too large (or its Content-Length is negative)")
                try:
                    asked = json.loads(self.rfile.read(length).decode("utf-8") or "{}")
                except (UnicodeDecodeError, ValueError) as err:
                    raise TrajectoryError(f"the request is not JSON: {str(err).splitlines()[0]}") from None
                if not isinstance(asked, dict):
                    raise TrajectoryError("the request must be a JSON object")
                for value in asked.values():
                    if isinstance(value, str):
                        try:
                            value.encode("utf-8")
                        except UnicodeEncodeError:
                            raise TrajectoryError("the request holds text that is not valid Unicode (a lone surrogate)") from None
                return asked

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if "\x00" in unquote(self.path):
                    self._json(400, "the address holds a NUL character")
                    return
                if self.path.startswith("/api/"):
                    if not self._ours():
                        self._json(403, "only this server's own pages may ask (Host is another site's)")
                        return
                    if not self.path.startswith("/api/routes/"):
                        self._json(404, "unknown address")
                        return
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
            server = _Server((host, port), functools.partial(Handler, directory=folder))
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
