"""scripts/fetch_catalog.py against a local FDSN event service that replays a recorded text answer."""

from __future__ import annotations

import http.server
import runpy
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from seisbind.errors import SeisbindInputError

ROOT = Path(__file__).resolve().parents[1]
RESPONSE = (ROOT / "tests" / "data" / "fdsn_event_text_norcia.txt").read_bytes()


def newest_of(body: bytes) -> bytes:
    """What fdsnws-event answers to orderby=time&limit=1: the header and the newest (last) event."""
    lines = body.splitlines(keepends=True)
    return lines[0] + lines[-1]


class Service(http.server.BaseHTTPRequestHandler):
    """fdsnws-event on 127.0.0.1: the recorded answer for /fdsnws/event/1/query (its newest event for
    orderby=time&limit=1), HTTP 204 when told to; `content_length` announces that many bytes (None: none, the
    answer ends when the connection closes)."""

    requests: list[str] = []
    answer: tuple[int, bytes] = (200, RESPONSE)
    content_length: int | None = None

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Service.requests.append(self.path)
        status, body = Service.answer if self.path.startswith("/fdsnws/event/1/query?") else (404, b"")
        if "limit=1" in self.path:
            status, body = 200, newest_of(RESPONSE)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        if Service.content_length is not None and "limit=1" not in self.path:
            self.send_header("Content-Length", str(Service.content_length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Service.requests, Service.answer, Service.content_length = [], (200, RESPONSE), None
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fetch_main():
    return runpy.run_path(str(ROOT / "scripts" / "fetch_catalog.py"))["main"]


def test_fetches_the_area_and_period_and_writes_a_readable_catalog(tmp_path, service, fetch_main) -> None:
    out = tmp_path / "catalog.txt"
    catalog = fetch_main([f"out={out}", f"base_url={service}", "min_magnitude=1.0"])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(Service.requests[0]).query)
    assert query["format"] == ["text"] and query["minlatitude"] == ["42.5"] and query["maxlongitude"] == ["13.5"]
    assert query["starttime"] == ["2016-08-01T00:00:00"] and query["endtime"] == ["2017-01-31T23:59:59"]
    assert query["minmagnitude"] == ["1.0"]
    assert out.read_bytes() == RESPONSE
    assert len(catalog) == 7 and catalog["magnitude"].max() == 6.5  # the quarry blast is not an earthquake


def test_empty_or_broken_answers_leave_no_file(tmp_path, service, fetch_main) -> None:
    out = tmp_path / "catalog.txt"
    Service.answer = (204, b"")
    with pytest.raises(SystemExit) as stopped:
        fetch_main([f"out={out}", f"base_url={service}"])
    assert stopped.value.code == 2
    Service.answer = (200, RESPONSE[: len(RESPONSE) // 2] + b"|garbage|\n")
    with pytest.raises(SystemExit):
        fetch_main([f"out={out}", f"base_url={service}"])
    Service.answer = (503, b"busy")
    with pytest.raises(SystemExit):
        fetch_main([f"out={out}", f"base_url={service}"])
    assert list(tmp_path.iterdir()) == []


def test_error_names_the_url(tmp_path, service) -> None:
    fetch = runpy.run_path(str(ROOT / "scripts" / "fetch_catalog.py"))
    Service.answer = (204, b"")
    with pytest.raises(SeisbindInputError, match=r"127\.0\.0\.1.*fdsnws/event/1/query.*no event"):
        fetch["fetch"](fetch["Options"](out=str(tmp_path / "c.txt"), base_url=service))


def test_a_cut_answer_is_refused_and_leaves_no_file(tmp_path, service, fetch_main, capsys) -> None:
    """Cut at a line boundary of a close-delimited answer (HTTP cannot tell): the newest-event query shows it.
    Cut before its Content-Length, mid-stream or at a line boundary: one line naming the URL, no traceback."""
    out = tmp_path / "catalog.txt"
    lines = RESPONSE.splitlines(keepends=True)
    Service.answer = (200, b"".join(lines[: len(lines) // 2]))
    with pytest.raises(SystemExit) as stopped:
        fetch_main([f"out={out}", f"base_url={service}"])
    assert stopped.value.code == 2
    assert "the answer was cut; fetch again" in capsys.readouterr().err
    newest = urllib.parse.parse_qs(urllib.parse.urlsplit(Service.requests[-1]).query)
    assert newest["orderby"] == ["time"] and newest["limit"] == ["1"] and newest["minlatitude"] == ["42.5"]
    for cut in (RESPONSE[: len(RESPONSE) // 2], b"".join(lines[: len(lines) // 2])):
        Service.answer, Service.content_length = (200, cut), len(RESPONSE)
        with pytest.raises(SystemExit) as stopped:
            fetch_main([f"out={out}", f"base_url={service}"])
        error = capsys.readouterr().err
        assert stopped.value.code == 2 and "Traceback" not in error and len(error.splitlines()) == 1
        assert f"{service}/fdsnws/event/1/query?" in error and f"answer was cut after {len(cut)} bytes" in error
        assert list(tmp_path.iterdir()) == []
