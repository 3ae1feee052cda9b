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


class Service(http.server.BaseHTTPRequestHandler):
    """fdsnws-event on 127.0.0.1: the recorded answer for /fdsnws/event/1/query, HTTP 204 when told to."""

    requests: list[str] = []
    answer: tuple[int, bytes] = (200, RESPONSE)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Service.requests.append(self.path)
        status, body = Service.answer if self.path.startswith("/fdsnws/event/1/query?") else (404, b"")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Service.requests, Service.answer = [], (200, RESPONSE)
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
