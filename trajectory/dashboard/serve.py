"""``trajectory serve``: the same static pages over local HTTP, rebuilt when the store changes."""

from __future__ import annotations

import errno
import functools
import http.server
import socket
import sys
import tempfile
import threading
from pathlib import Path

from trajectory.dashboard.build import build_dashboards
from trajectory.errors import TrajectoryError, describe_failure


class _Pages:
    """Pages built into a private folder; rebuilt on a request after the store file changed."""

    def __init__(self, db: Path, folder: Path, analysis: str | None, flows: list[str] | None) -> None:
        self.db, self.folder, self.analysis, self.flows = db, folder, analysis, flows
        self.lock = threading.Lock()
        self.built_for: float | None = None

    def refresh(self, say=lambda line: None) -> None:
        with self.lock:
            try:
                stamp = self.db.stat().st_mtime
            except FileNotFoundError:
                raise TrajectoryError(f"the store {self.db} is gone (deleted or moved); serving the pages as they were") from None
            if stamp != self.built_for:
                build_dashboards(self.db, self.folder, analysis=self.analysis, flows=self.flows, progress=False, say=say)
                self.built_for = stamp


def serve(db: Path, host: str, port: int, analysis: str | None, flows: list[str] | None) -> None:
    with tempfile.TemporaryDirectory(prefix="trajectory-serve-") as folder:
        pages = _Pages(Path(db), Path(folder), analysis, flows)
        chosen: list[str] = []
        pages.refresh(say=chosen.append)  # fail here, with the CLI's one-line error, rather than on the first request

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.split("?")[0].endswith(("/", ".html")):
                    try:
                        pages.refresh()
                    except TrajectoryError as err:  # e.g. an ingest is writing: serve the pages as they were
                        print(f"warning: pages not rebuilt: {err}", file=sys.stderr, flush=True)
                    except Exception as err:  # noqa: BLE001 - a damaged store: one line, never a traceback per request
                        print(f"warning: pages not rebuilt: {describe_failure(err)}", file=sys.stderr, flush=True)
                super().do_GET()

            def log_message(self, format: str, *args) -> None:  # noqa: A002
                pass  # quiet: one line per request drowns the URL the user needs

        try:
            server = http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=folder))
        except OSError as err:
            raise TrajectoryError(f"cannot serve on {host}:{port}: {_bind_advice(err)}") from None
        print(f"serving the dashboards of {db} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        print(*chosen, sep="\n", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()


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
