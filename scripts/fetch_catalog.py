"""Fetch the earthquake catalog of the study area from an FDSN event service (INGV by default).

python scripts/fetch_catalog.py out=catalog.txt [area=norcia] [min_magnitude=null] [base_url=https://webservices.ingv.it]
    [timeout_s=120]

The box and period come from configs/area/<area>.yaml, the same ones the data filters and the probe use. The
service's `format=text` answer (the INGV FDSN text the catalog reader takes) is written under a temporary name,
read back with seisbind's reader and only then renamed to `out`, so a broken or partial download never looks like
a catalog. The FDSN event query parameters are those of the FDSN web-service specification (fdsnws-event 1.2).

A cut answer is refused: one shorter than its Content-Length (or cut mid-stream) by the HTTP layer, and one cut
at a line boundary of a close-delimited answer, which HTTP cannot tell from a whole one, by a second query for the
newest event of the box and period (`orderby=time`, `limit=1`): the answer, oldest first, must end with it.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seisbind.cli import cli_options, report_user_errors
from seisbind.data.catalog import read_catalog
from seisbind.errors import SeisbindInputError
from seisbind.files import atomic_path
from seisbind.study_area import load_area


@dataclass
class Options:
    out: str = "catalog.txt"
    area: str = "norcia"
    min_magnitude: float | None = None
    base_url: str = "https://webservices.ingv.it"
    timeout_s: float = 120.0


def query_url(opts: Options) -> str:
    """The fdsnws-event query for the area's box and period, oldest event first."""
    area = load_area(opts.area)
    start, end = area.period.timestamps(f"area={opts.area}: period")
    params = {"starttime": start.strftime("%Y-%m-%dT%H:%M:%S"), "endtime": end.strftime("%Y-%m-%dT%H:%M:%S"),
              "minlatitude": area.region.min_latitude_deg, "maxlatitude": area.region.max_latitude_deg,
              "minlongitude": area.region.min_longitude_deg, "maxlongitude": area.region.max_longitude_deg,
              "orderby": "time-asc", "format": "text"}
    if opts.min_magnitude is not None:
        params["minmagnitude"] = opts.min_magnitude
    return f"{opts.base_url.rstrip('/')}/fdsnws/event/1/query?{urllib.parse.urlencode(params)}"


def download(url: str, timeout_s: float) -> tuple[int, bytes]:
    """(HTTP status, body) of one GET; a refused, failed or cut answer is a SeisbindInputError naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status, body = response.status, response.read()
            expected = response.headers.get("Content-Length")
    except urllib.error.HTTPError as error:
        raise SeisbindInputError(f"{url}: the service answered HTTP {error.code} {error.reason}") from None
    except http.client.IncompleteRead as error:
        raise SeisbindInputError(f"{url}: the answer was cut after {len(error.partial)} bytes; fetch again") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise SeisbindInputError(f"{url}: no answer ({getattr(error, 'reason', error)}); check base_url and the "
                                 "network") from None
    if expected is not None and expected.isdigit() and int(expected) != len(body):
        raise SeisbindInputError(f"{url}: the answer holds {len(body)} of its {expected} bytes; fetch again")
    return status, body


def last_event_id(body: bytes) -> str:
    """The EventID (first field) of the last data line of an FDSN text answer, "" when there is none."""
    lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.strip()
             and not line.startswith("#")]
    return lines[-1].split("|", 1)[0].strip() if lines else ""


def check_complete(opts: Options, url: str, body: bytes) -> None:
    """Refuse an answer that does not end with the newest event of the box and period (see the module
    docstring)."""
    newest_url = url.replace("orderby=time-asc", "orderby=time") + "&limit=1"
    _, newest = download(newest_url, opts.timeout_s)
    expected, got = last_event_id(newest), last_event_id(body)
    if expected != got:
        raise SeisbindInputError(f"{url}: the answer ends with event {got!r}, but the service's newest event in the "
                                 f"box and period is {expected!r}: the answer was cut; fetch again")


def fetch(opts: Options) -> pd.DataFrame:
    """Download, check and write the catalog; returns it as seisbind reads it."""
    url = query_url(opts)
    status, body = download(url, opts.timeout_s)
    if status == 204 or not body.strip():
        raise SeisbindInputError(f"{url}: the service has no event in this box and period (HTTP {status})")
    check_complete(opts, url, body)
    out = Path(opts.out)
    if out.suffix not in (".txt", ".text", ".fdsn"):
        raise SeisbindInputError(f"out={out}: the service answers FDSN text; name the file *.txt")
    with atomic_path(out) as tmp:
        tmp.write_bytes(body)
        try:
            catalog = read_catalog(tmp)  # a partial or foreign answer fails here, before the rename
        except SeisbindInputError as error:
            raise SeisbindInputError(f"{url}: the answer is not a readable FDSN text catalog "
                                     f"({str(error).replace(str(tmp), 'response')})") from None
    return catalog


@report_user_errors
def main(argv: list[str] | None = None) -> pd.DataFrame:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    opts: Options = cli_options(Options, argv)
    catalog = fetch(opts)
    print(f"{len(catalog)} events, M {catalog['magnitude'].min():.1f}-{catalog['magnitude'].max():.1f}, "
          f"{catalog['time'].min()} to {catalog['time'].max()} -> {opts.out}")
    return catalog


if __name__ == "__main__":
    main()
