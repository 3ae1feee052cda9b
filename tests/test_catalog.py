"""Catalog readers (FDSN text, QuakeML, CSV) and seismicity statistics, on small hand-written files."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from scipy.stats import norm

from seisbind.data.catalog import CATALOG_COLUMNS, read_catalog, read_catalogs
from seisbind.data.tables import SideTables, TableSource
from seisbind.errors import SeisbindInputError
from seisbind.probe.windows import select_targets
from seisbind.seismicity.declustering import gardner_knopoff_mainshocks
from seisbind.seismicity.magnitudes import (
    b_standard_error,
    b_value_aki_utsu,
    gutenberg_richter,
    mc_max_curvature,
    moment_Nm,
)
from seisbind.seismicity.window_features import FEATURE_COLUMNS, window_catalog_features
from tests.helpers.real_catalogs import RIDGECREST as RIDGECREST_FILE
from tests.helpers.real_catalogs import SED_2023, extracted

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

HEADER_14 = ("#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|MagType|"
             "Magnitude|MagAuthor|EventLocationName|EventType")
HEADER_13 = ("#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|"
             "Magnitude|MagAuthor|EventLocationName")
FDSN_14 = f"""{HEADER_14}
8863681|2016-10-30T06:40:17.320000|42.8322|13.1107|9.2|SURVEY-INGV||||Mw|6.5|--|3 km N Norcia (PG)|earthquake
7073641|2016-08-24T01:36:32|42.6983|13.2335|8.1|SURVEY-INGV||||Mw|6.0|--|1 km W Accumoli (RI)|earthquake
45520353|2016-09-01T10:12:00.5|42.9|12.9|0.5|SURVEY-INGV||||ML|1.4|--|Cava (PG)|quarry blast
45520354|2016-09-02T11:00:00.000000|42.95|12.95||SURVEY-INGV||||ML||--|nowhere|earthquake
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_fdsn_text_14_columns_filters_quarry_blast(tmp_path, caplog):
    path = write(tmp_path / "catalog.txt", FDSN_14)
    with caplog.at_level(logging.INFO):
        cat = read_catalog(path)
    assert list(cat.columns) == CATALOG_COLUMNS
    assert list(cat["event_id"]) == ["7073641", "45520354", "8863681"]  # sorted by time, blast gone
    assert str(cat["time"].dtype) == "datetime64[ns, UTC]"
    assert cat["time"].iloc[2] == pd.Timestamp("2016-10-30T06:40:17.32", tz="UTC")
    assert cat["time"].iloc[0] == pd.Timestamp("2016-08-24T01:36:32", tz="UTC")
    assert cat["depth_km"].iloc[2] == pytest.approx(9.2)
    assert np.isnan(cat["depth_km"].iloc[1]) and np.isnan(cat["magnitude"].iloc[1])  # empty fields -> NaN
    assert list(cat["magnitude_type"]) == ["Mw", "ML", "Mw"]
    assert cat.attrs["dropped_event_types"] == {"quarry blast": 1}
    assert "quarry blast=1" in caplog.text
    everything = read_catalog(path, event_types=None)
    assert len(everything) == 4 and "quarry blast" in set(everything["event_type"])


def test_fdsn_text_13_columns_lowercase_km(tmp_path):
    body = "\n".join(line.rsplit("|", 1)[0] for line in FDSN_14.splitlines()[1:])
    cat = read_catalog(write(tmp_path / "old.txt", f"{HEADER_13}\n{body}\n"))
    assert len(cat) == 4  # no EventType column: nothing to filter on, all taken as earthquakes
    assert set(cat["event_type"]) == {"earthquake"}
    assert cat["latitude_deg"].iloc[0] == pytest.approx(42.6983)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("999|2016-09-03T00:00:00|42.9|13.0|5.0|x||||ML|2.0|--|too few fields", "wrong field count"),
        ("999|2016-09-03T00:00:00|42.9|13.0|5.0|x||||ML|2.x|--|here|earthquake", "bad magnitude"),
        ("999|2016-13-03T00:00:00|42.9|13.0|5.0|x||||ML|2.0|--|here|earthquake", "bad time"),
        ("999|2016-09-03T00:00:00|142.9|13.0|5.0|x||||ML|2.0|--|here|earthquake", "bad latitude_deg"),
    ],
)
def test_fdsn_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    lines = FDSN_14.splitlines()
    path = write(tmp_path / "catalog.txt", "\n".join(lines[:3] + [bad_line] + lines[3:]) + "\n")
    with pytest.raises(SeisbindInputError, match=rf"catalog\.txt: line 4: {message}"):
        read_catalog(path)


def test_fdsn_skip_policy_counts_bad_lines(tmp_path, caplog):
    lines = FDSN_14.splitlines()
    bad_latitude = "1|2016-09-03T00:00:00|oops|13|5|x||||ML|2|--|a|earthquake"
    path = write(tmp_path / "catalog.txt", "\n".join([*lines, bad_latitude]))
    with caplog.at_level(logging.WARNING):
        cat = read_catalog(path, on_bad="skip")
    assert len(cat) == 3
    assert "skipped 1 malformed records" in caplog.text and "line 6" in caplog.text


def test_fdsn_without_header_is_rejected(tmp_path):
    with pytest.raises(SeisbindInputError, match="header"):
        read_catalog(write(tmp_path / "c.txt", FDSN_14.split("\n", 1)[1]))


def quakeml_event(rid, when, lat, lon, depth_m, mag, kind, extra_origin=False):
    """An ObsPy event with a decoy first origin (extra_origin) and a decoy first magnitude; mag=None: none."""
    from obspy import UTCDateTime
    from obspy.core.event import Event, Magnitude, Origin, ResourceIdentifier

    ev = Event(resource_id=ResourceIdentifier(rid), event_type=kind)
    origin = Origin(time=UTCDateTime(when), latitude=lat, longitude=lon, depth=depth_m)
    ev.origins = [Origin(time=UTCDateTime(when) - 5, latitude=0.0, longitude=0.0)] if extra_origin else []
    ev.origins.append(origin)
    ev.preferred_origin_id = origin.resource_id.id
    if mag is not None:
        ev.magnitudes = [Magnitude(mag=mag - 1.0, magnitude_type="Md"), Magnitude(mag=mag, magnitude_type="Mw")]
        ev.preferred_magnitude_id = ev.magnitudes[1].resource_id.id
    return ev


def write_quakeml(path, events):
    from obspy.core.event import Catalog

    Catalog(events=events).write(str(path), format="QUAKEML")
    return path


def test_quakeml_written_by_obspy(tmp_path):
    path = write_quakeml(tmp_path / "catalog.xml", [
        quakeml_event("smi:test/event/2", "2016-10-30T06:40:17.32", 42.83, 13.11, 9200.0, 6.5, "earthquake",
                      extra_origin=True),
        quakeml_event("smi:test/event/1", "2016-08-24T01:36:32", 42.70, 13.23, 8100.0, 6.0, "earthquake"),
        quakeml_event("smi:test/event/3", "2016-09-01T10:00:00", 42.90, 12.90, 500.0, 1.5, "quarry blast"),
    ])
    cat = read_catalog(path)
    assert list(cat["event_id"]) == ["smi:test/event/1", "smi:test/event/2"]
    norcia = cat.iloc[1]
    assert (norcia["latitude_deg"], norcia["longitude_deg"]) == (42.83, 13.11)  # preferred, not first origin
    assert norcia["depth_km"] == pytest.approx(9.2)
    assert norcia["magnitude"] == 6.5 and norcia["magnitude_type"] == "Mw"
    assert norcia["time"] == pd.Timestamp("2016-10-30T06:40:17.32", tz="UTC")
    assert cat.attrs["dropped_event_types"] == {"quarry blast": 1}


def unpreferred_event(rid, origins, magnitudes):
    """An ObsPy event with the given (time, lat, lon) origins and magnitudes and no preferred one of either."""
    from obspy import UTCDateTime
    from obspy.core.event import Event, Magnitude, Origin, ResourceIdentifier

    return Event(resource_id=ResourceIdentifier(rid), event_type="earthquake",
                 origins=[Origin(time=UTCDateTime(t), latitude=lat, longitude=lon, depth=8000.0)
                          for t, lat, lon in origins],
                 magnitudes=[Magnitude(mag=m, magnitude_type="ML") for m in magnitudes])


def test_quakeml_single_origin_and_magnitude_without_preferred_ids_are_used(tmp_path):
    path = write_quakeml(tmp_path / "catalog.xml", [
        unpreferred_event("smi:test/visso", [("2016-10-26T19:18:08", 42.91, 13.13)], [5.9])])
    cat = read_catalog(path)
    assert (cat["latitude_deg"].iloc[0], cat["magnitude"].iloc[0]) == (42.91, 5.9)


@pytest.mark.parametrize(("origins", "magnitudes", "missing"), [
    ([("2016-10-26T19:18:08", 42.91, 13.13), ("2016-10-26T19:18:05", 0.0, 0.0)], [5.9], "preferredOriginID"),
    ([("2016-10-26T19:18:08", 42.91, 13.13)], [3.1, 5.9], "preferredMagnitudeID"),
])
def test_quakeml_several_origins_or_magnitudes_without_a_preferred_one_are_refused(tmp_path, origins, magnitudes,
                                                                                    missing):
    """Taking the first of several origins or magnitudes moved events and changed which were targets."""
    path = write_quakeml(tmp_path / "catalog.xml", [
        quakeml_event("smi:test/norcia", "2016-10-30T06:40:17.32", 42.83, 13.11, 9200.0, 6.5, "earthquake"),
        unpreferred_event("smi:test/visso", origins, magnitudes),
        unpreferred_event("smi:test/visso2", origins, magnitudes),
    ])
    with pytest.raises(SeisbindInputError) as raised:
        read_catalog(path, on_bad="skip")
    message = str(raised.value)
    assert message.startswith(f"{path}: 2 events have several origins or magnitudes and no preferred one, the "
                              f"first event 2 (smi:test/visso)")
    assert missing in message and "\n" not in message


def test_quakeml_event_without_magnitude_is_kept_counted_and_named(tmp_path, caplog):
    path = write_quakeml(tmp_path / "catalog.xml", [
        quakeml_event("smi:test/norcia", "2016-10-30T06:40:17.32", 42.83, 13.11, 9200.0, None, "earthquake"),
        quakeml_event("smi:test/aftershock", "2016-10-30T07:40:00", 42.84, 13.12, 8000.0, 4.5, "earthquake"),
        quakeml_event("smi:test/amatrice", "2016-08-24T01:36:32", 42.70, 13.23, 8100.0, 6.0, "earthquake"),
    ])
    with caplog.at_level(logging.WARNING):
        cat = read_catalog(path)
    assert len(cat) == 3 and np.isnan(cat.loc[cat["event_id"] == "smi:test/norcia", "magnitude"]).all()
    assert cat.attrs["n_without_magnitude"] == 1
    assert "catalog.xml: 1 events without a magnitude" in caplog.text
    assert "smi:test/norcia (2016-10-30T06:40:17.320000+00:00)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        targets = select_targets(cat, 4.0, "preceding")
    # the aftershock is promoted for want of the mainshock's magnitude: allowed, but never silently
    assert list(targets["event_id"]) == ["smi:test/amatrice", "smi:test/aftershock"]
    assert targets.attrs["n_without_magnitude"] == 1
    assert "1 catalog events without a magnitude" in caplog.text and "smi:test/norcia" in caplog.text


def test_empty_magnitude_cells_are_counted_in_fdsn_text_and_csv(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        fdsn = read_catalog(write(tmp_path / "catalog.txt", FDSN_14))
        csv = read_catalog(write(tmp_path / "events.csv", "time,lat,lon,mag\n2016-08-24,42.7,13.2,3\n"
                                                          "2016-08-25,42.7,13.2,\n2016-08-26,42.7,13.2,\n"))
    assert fdsn.attrs["n_without_magnitude"] == 1 and csv.attrs["n_without_magnitude"] == 2
    assert "catalog.txt: 1 events without a magnitude" in caplog.text
    assert "45520354 (2016-09-02T11:00:00+00:00)" in caplog.text
    assert "events.csv: 2 events without a magnitude" in caplog.text and "events:3" in caplog.text


def test_catalogs_with_a_byte_order_mark(tmp_path):
    fdsn = tmp_path / "catalog.txt"
    fdsn.write_text(FDSN_14, encoding="utf-8-sig")
    assert len(read_catalog(fdsn)) == 3
    csv = tmp_path / "catalog.csv"
    csv.write_text("time,lat,lon,mag\n2016-08-24,42.7,13.2,3\n", encoding="utf-8-sig")
    assert read_catalog(csv)["magnitude"].tolist() == [3.0]


def test_unreadable_quakeml_names_file(tmp_path):
    with pytest.raises(SeisbindInputError, match="broken.xml"):
        read_catalog(write(tmp_path / "broken.xml", "<q:quakeml><eventParameters>"))


def test_plain_csv_with_aliases(tmp_path):
    path = write(tmp_path / "catalog.csv", "Time,Lat,Lon,Depth,Mag,Type\n"
                 "2016-08-24 01:36:32,42.70,13.23,8.1,6.0,earthquake\n"
                 "2016-08-24T00:00:00Z,42.71,13.22,5.0,2.1,earthquake\n")
    cat = read_catalog(path)
    assert list(cat["magnitude"]) == [2.1, 6.0]
    assert list(cat["event_id"]) == ["catalog:3", "catalog:2"]  # generated from the CSV line
    bad = write(tmp_path / "nomag.csv", "time,lat,lon\n2016-08-24,42.7,13.2\n")
    with pytest.raises(SeisbindInputError, match=r"nomag\.csv: missing required column\(s\) \['magnitude'\]"):
        read_catalog(bad)
    with pytest.raises(SeisbindInputError, match=r"bad\.csv: line 3: bad longitude_deg"):
        read_catalog(write(tmp_path / "bad.csv", "time,lat,lon,mag\n2016-08-24,42.7,13.2,3\n2016-08-25,42.7,,3\n"))


# ------------------------------------------------------------------------------------------------ real catalogs
def test_sed_catalog_flattened_from_quakeml_by_seismostats(tmp_path):
    """The Swiss Seismological Service's 2023 catalog as the seismostats 1.0.1 wheel ships it: a plain 'depth' in
    metres (QuakeML's origin depth, marked by the evaluationmode column) ends in km; quarry blasts, landslides,
    sonic booms and explosions are dropped and counted; two events it lists twice (0.06 s and 60 m apart, M1.07 and
    M1.04; 0.7 s and 0.45 km apart, M0.51 and M0.15) are read once."""
    cat = read_catalog(extracted(SED_2023, tmp_path))
    assert len(cat) == 1924 - 375 - 22 - 3 - 2 - 2
    assert {"catalog_sed:1583", "catalog_sed:222"}.isdisjoint(cat["event_id"])  # the smaller magnitudes
    assert cat.attrs["dropped_event_types"] == {"quarry blast": 375, "landslide": 22, "sonic boom": 3,
                                                "explosion": 2}
    first = cat.iloc[0]  # the file's last line, 2023-01-01 09:52:48.788729, depth 6518.554688 m
    assert first["event_id"] == "catalog_sed:1925"
    assert first["time"] == pd.Timestamp("2023-01-01T09:52:48.788729Z")
    assert first["depth_km"] == pytest.approx(6.518554688)
    assert cat["depth_km"].between(-5, 40).all()  # Swiss crust, stations above sea level give negative depths
    assert cat["magnitude"].max() == pytest.approx(4.28, abs=0.01)


def test_pycsep_sample_comcat_catalog(tmp_path):
    """pyCSEP 0.8.0's observed catalog of the week after the 2019 Ridgecrest M7.1 (lon, lat, M, time_string,
    depth in km, catalog_id -1, event_id empty): every row read, each named by its line."""
    cat = read_catalog(extracted(RIDGECREST_FILE, tmp_path))
    # three events ComCat lists twice (two solutions 0.2-0.8 s and 1-3.5 km apart, lines 624, 686 and 726) once
    assert len(cat) == 829 - 3 and cat["event_id"].is_unique
    assert {f"sample_comcat_catalog:{n}" for n in (623, 686, 726)}.isdisjoint(cat["event_id"])  # smaller magnitudes
    first = cat.iloc[0]
    assert (first["time"], first["latitude_deg"], first["longitude_deg"], first["magnitude"], first["depth_km"]) == (
        pd.Timestamp("2019-07-06T03:22:35.63Z"), 35.616665, -117.43017, 4.73, 9.35)
    assert first["event_id"] == "sample_comcat_catalog:2"
    assert (cat["magnitude"] >= 2.5).all() and cat["depth_km"].max() < 40


def write_like_pycsep(path, catalogs):
    """A file as pyCSEP's CSEPCatalog.write_ascii writes it (csv.DictWriter, header lon, lat, mag, time_string,
    depth, catalog_id, event_id; time_string is str(datetime) with 'T', so whole seconds carry no fraction), one
    block per (catalog_id, events)."""
    header = ["lon", "lat", "mag", "time_string", "depth", "catalog_id", "event_id"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, delimiter=",")
        writer.writeheader()
        for catalog_id, events in catalogs:
            for lon, lat, mag, time, depth, event_id in events:
                writer.writerow({"lon": lon, "lat": lat, "mag": mag, "time_string": str(time).replace(" ", "T"),
                                 "depth": depth, "catalog_id": catalog_id, "event_id": event_id})
    return path


RIDGECREST = [(-117.5993333, 35.7695, 7.1, dt.datetime(2019, 7, 6, 3, 19, 53, 40000), 8.0, "ci38457511"),
              (-117.43017, 35.616665, 4.73, dt.datetime(2019, 7, 6, 3, 22, 35), 9.35, "")]


def test_pycsep_csv_as_write_ascii_writes_it(tmp_path):
    cat = read_catalog(write_like_pycsep(tmp_path / "catalog.csv", [(0, RIDGECREST)]))
    assert cat["event_id"].tolist() == ["ci38457511", "catalog:3"]  # an empty event_id is named by its line
    assert cat["time"].tolist() == [pd.Timestamp("2019-07-06T03:19:53.04Z"), pd.Timestamp("2019-07-06T03:22:35Z")]
    assert cat["magnitude"].tolist() == [7.1, 4.73] and cat["depth_km"].tolist() == [8.0, 9.35]
    forecast = write_like_pycsep(tmp_path / "forecast.csv", [(0, RIDGECREST), (1, RIDGECREST[:1])])
    with pytest.raises(SeisbindInputError, match=r"forecast\.csv: column 'catalog_id' holds 2 catalogs \(0, 1\)"
                                                 r".*keep the rows of one catalog_id"):
        read_catalog(forecast)


COMCAT = """time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,horizontalError,\
depthError,magError,magNst,status,locationSource,magSource
2019-07-06T03:19:53.040Z,35.7695,-117.5993333,8,7.1,mw,79,43,0.06758,0.19,ci,ci38457511,2023-06-16T18:19:03.745Z,\
"Ridgecrest Earthquake Sequence",earthquake,0.16,0.61,,6,reviewed,ci,ci
2019-07-06T03:22:35.630Z,35.616665,-117.43017,9.35,4.73,mw,,,,,ci,ci38457607,2019-07-10T00:00:00.000Z,\
"20km ESE of Little Lake, CA",earthquake,,,,,reviewed,ci,ci
2018-09-06T15:49:18.710Z,-18.4743,179.3502,670.81,7.9,mww,,,,,us,us2000h8ty,2018-11-30T00:00:00.000Z,\
"102km ESE of Suva, Fiji",earthquake,,,,,reviewed,us,us
2019-07-08T20:00:00.000Z,34.0,-117.0,0,2.1,ml,,,,,ci,ci1,2019-07-09T00:00:00.000Z,"Quarry, CA",quarry blast,\
,,,,reviewed,ci,ci
"""


def test_comcat_csv(tmp_path):
    """USGS ComCat's CSV layout (the FDSN event service's format=csv, all its columns; events of Ridgecrest 2019,
    Fiji 2018 and a quarry blast): depth is km, so a 670 km deep Fiji event is read
    as 670 km, not refused; its type column drops the quarry blast."""
    cat = read_catalog(write(tmp_path / "catalog.csv", COMCAT))
    assert cat["event_id"].tolist() == ["us2000h8ty", "ci38457511", "ci38457607"]
    assert cat["depth_km"].tolist() == [670.81, 8.0, 9.35]
    assert cat["magnitude_type"].tolist() == ["mww", "mw", "mw"]
    assert cat.attrs["dropped_event_types"] == {"quarry blast": 1}


# ------------------------------------------------------------------------------------------------ depth units
CSV_IN_METRES = "time,lat,lon,{depth},mag\n2016-08-24T01:36:32,42.70,13.23,8100,6.0\n" \
                "2016-10-30T06:40:17.32,42.83,13.11,9200,6.5\n2016-09-01T10:00:00,42.90,12.90,450,1.5\n"


@pytest.mark.parametrize("column", ["depth_m", "Depth/m", "source_depth_m"])
def test_csv_depth_in_metres_is_converted_to_km(tmp_path, column):
    cat = read_catalog(write(tmp_path / "catalog.csv", CSV_IN_METRES.format(depth=column)))
    assert cat["depth_km"].tolist() == pytest.approx([8.1, 0.45, 9.2])


def test_fdsn_text_depth_in_metres_is_converted_to_km(tmp_path):
    header = HEADER_14.replace("Depth/Km", "Depth/m")
    body = "8863681|2016-10-30T06:40:17.32|42.8322|13.1107|9200|SURVEY-INGV||||Mw|6.5|--|Norcia|earthquake\n"
    assert read_catalog(write(tmp_path / "catalog.txt", f"{header}\n{body}"))["depth_km"].tolist() == [9.2]


def test_csv_depth_without_unit_holding_metres_is_refused(tmp_path):
    """8100 km is deeper than any earthquake: a column named only 'depth' holding metres would be read as km."""
    path = write(tmp_path / "catalog.csv", CSV_IN_METRES.format(depth="Depth"))
    with pytest.raises(SeisbindInputError, match=r"catalog\.csv: column 'Depth' holds depths up to 9200 "
                                                 r"\(line 3\).*rename the column depth_m .* or depth_km"):
        read_catalog(path)
    kilometres = write(tmp_path / "km.csv", "time,lat,lon,depth,mag\n2016-08-24,42.7,13.2,8.1,6\n")
    assert read_catalog(kilometres)["depth_km"].tolist() == [8.1]  # plausible km: read as km
    both = write(tmp_path / "both.csv", "time,lat,lon,depth,depth_km,mag\n2016-08-24,42.7,13.2,8100,8.1,6\n")
    assert read_catalog(both)["depth_km"].tolist() == [8.1]  # the column with a unit is the one used


def test_depth_deeper_than_any_earthquake_is_a_bad_record(tmp_path, caplog):
    """A Depth/Km header over a value in metres: that line is refused (or skipped and counted), not read as km."""
    lines = FDSN_14.splitlines()
    metres = "999|2016-09-03T00:00:00|42.9|13.0|9200|x||||ML|2.0|--|here|earthquake"
    path = write(tmp_path / "catalog.txt", "\n".join([*lines, metres]) + "\n")
    with pytest.raises(SeisbindInputError, match=r"catalog\.txt: line 6: bad depth_km: '9200' \(deeper than"):
        read_catalog(path)
    with caplog.at_level(logging.WARNING):
        assert "999" not in set(read_catalog(path, on_bad="skip")["event_id"])
    assert "skipped 1 malformed records: bad depth_km: 1 (line 6)" in caplog.text


def test_quakeml_depth_in_metres_is_read_as_km(tmp_path):
    """QuakeML gives depth in metres (QuakeML 1.2 BED): 9200 m is 9.2 km."""
    path = write_quakeml(tmp_path / "catalog.xml", [
        quakeml_event("smi:test/norcia", "2016-10-30T06:40:17.32", 42.83, 13.11, 9200.0, 6.5, "earthquake")])
    assert read_catalog(path)["depth_km"].tolist() == [9.2]


# ------------------------------------------------------------------------------------------------ repeated events
def test_a_catalog_downloaded_twice_gives_each_event_once(tmp_path, caplog):
    """Two downloads concatenated into one file: every event twice, which doubled the targets' windows."""
    once = read_catalog(write(tmp_path / "once.txt", FDSN_14))
    with caplog.at_level(logging.WARNING):
        twice = read_catalog(write(tmp_path / "twice.txt", FDSN_14 + FDSN_14))
    pd.testing.assert_frame_equal(twice, once, check_like=False)
    assert len(select_targets(twice, 4.0, "preceding")) == len(select_targets(once, 4.0, "preceding")) == 2
    assert "twice.txt: 3 repeated records read once" in caplog.text
    assert "7073641, 45520354, 8863681" in caplog.text


def test_rows_without_ids_repeated_to_the_millisecond_are_read_once(tmp_path, caplog):
    rows = "2016-08-24T01:36:32.120,42.70,13.23,8.1,6.0\n2016-08-24T02:00:00,42.71,13.22,5.0,2.1\n"
    with caplog.at_level(logging.WARNING):
        cat = read_catalog(write(tmp_path / "catalog.csv", "time,lat,lon,depth,mag\n" + rows + rows))
    assert list(cat["event_id"]) == ["catalog:2", "catalog:3"]
    assert "catalog.csv: 2 repeated records read once" in caplog.text and "catalog:4 (= catalog:2)" in caplog.text


def test_one_event_id_with_two_different_records_is_refused(tmp_path):
    relocated = FDSN_14.splitlines()[1].replace("|42.8322|", "|42.9000|").replace("|6.5|", "|6.4|")
    path = write(tmp_path / "catalog.txt", FDSN_14 + relocated + "\n")
    with pytest.raises(SeisbindInputError) as raised:
        read_catalog(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: event '8863681' is listed with different values: ")
    assert "42.8322N 13.1107E 9.2 km M6.5" in message and "42.9000N 13.1107E 9.2 km M6.4" in message
    assert "\n" not in message


def test_overlapping_catalog_files_give_each_event_once(tmp_path, caplog):
    lines = FDSN_14.splitlines()
    first = write(tmp_path / "aug.txt", "\n".join(lines[:3]) + "\n")
    second = write(tmp_path / "oct.txt", "\n".join([lines[0], *lines[1:]]) + "\n")
    with caplog.at_level(logging.WARNING):
        merged = read_catalogs([first, second])
    assert list(merged["event_id"]) == ["7073641", "45520354", "8863681"]
    assert "2 repeated records read once" in caplog.text and "aug.txt" in caplog.text
    revised = write(tmp_path / "revised.txt", "\n".join([lines[0], lines[1].replace("|6.5|", "|6.6|")]) + "\n")
    with pytest.raises(SeisbindInputError, match=r"aug\.txt and .*revised\.txt: event '8863681' is listed with "
                                                 r"different values: .*M6\.5 \(.*aug\.txt\) vs .*M6\.6 \(.*revised"):
        read_catalogs([first, revised])


def test_catalog_source_takes_the_first_pattern_that_matches(tmp_path):
    """The catalog modality's source (configs/modality/catalog.yaml): catalog.txt, else .xml, else .csv."""
    source = TableSource.of(OmegaConf.load(CONFIGS / "modality" / "catalog.yaml").catalog.source)
    with pytest.raises(SeisbindInputError, match="catalog.txt"):
        SideTables(tmp_path).load(source, "the catalog")
    write(tmp_path / "catalog.csv", "x")
    assert [p.name for p in source.paths(tmp_path)] == ["catalog.csv"]
    write(tmp_path / "catalog.txt", "x")
    assert [p.name for p in source.paths(tmp_path)] == ["catalog.txt"]


# ------------------------------------------------------------------------------------------------ statistics
def gr_magnitudes(n, b=1.0, m_min=0.0, seed=0):
    return m_min + np.random.default_rng(seed).exponential(1.0 / (b * np.log(10)), n)


def test_moment():
    assert moment_Nm(6.0) == pytest.approx(10**18.1)
    assert moment_Nm(np.array([5.0, 6.0]))[1] / moment_Nm(5.0) == pytest.approx(10**1.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_b_value_recovers_gutenberg_richter(seed):
    mags = np.round(gr_magnitudes(5000, b=1.0, m_min=1.45, seed=seed), 1)  # continuous above 1.45 -> bins >= 1.5
    b, reason = b_value_aki_utsu(mags, mc=1.5)
    assert reason is None and abs(b - 1.0) < 0.1
    b_steep, _ = b_value_aki_utsu(np.round(gr_magnitudes(5000, b=1.5, m_min=1.45, seed=seed), 1), mc=1.5)
    assert abs(b_steep - 1.5) < 0.15


@pytest.mark.parametrize("b_true", [0.8, 1.0, 1.2])
def test_b_value_truncated_where_the_largest_events_were_set_aside(b_true):
    """Events from M3.5 up set aside (as an ETAS null holds its largest shocks): Aki-Utsu on the rest reads b too
    high, the likelihood truncated at 3.5 recovers it; with the cut far above every event it is Tinti & Mulargia's
    (1987) closed form for binned magnitudes, ln(1 + dm / (mean(M) - Mc)) / (dm ln 10)."""
    mags = np.round(gutenberg_richter(np.random.default_rng(7), 200_000, b_true, 2.45), 1)
    kept = mags[mags < 3.5 - 1e-9]
    naive, _ = b_value_aki_utsu(kept, mc=2.5)
    truncated, reason = b_value_aki_utsu(kept, mc=2.5, below=3.5)
    assert reason is None
    assert abs(truncated - b_true) < 0.02 < naive - b_true
    closed_form = math.log1p(0.1 / (mags.mean() - 2.5)) / (0.1 * math.log(10.0))
    assert b_value_aki_utsu(mags, mc=2.5, below=50.0)[0] == pytest.approx(closed_form, rel=1e-9)
    flat = np.repeat(np.round(np.arange(2.5, 3.45, 0.1), 1), 10)   # as many events in every bin: no decrease
    b, reason = b_value_aki_utsu(flat, mc=2.5, below=3.5)
    assert np.isnan(b) and "do not decrease" in reason


@pytest.mark.parametrize("below", [math.inf, 3.5])
def test_b_standard_error_is_the_spread_of_b_over_samples(below):
    """Against the truth: b from 400 samples of 300 binned Gutenberg-Richter magnitudes (b = 1, Mc 2.5; with the
    events from 3.5 up set aside, the truncated estimate) spreads as the standard error says, within 10 %; the
    truncated one is the wider. Untruncated and unbinned it is Aki's b / sqrt(n)."""
    rng = np.random.default_rng(11)
    estimates, errors = [], []
    for _ in range(400):
        mags = np.round(gutenberg_richter(rng, 300 if math.isinf(below) else 1000, 1.0, 2.45), 1)
        mags = mags[mags < below - 1e-9][:300]
        b, _ = b_value_aki_utsu(mags, mc=2.5, below=below)
        estimates.append(b)
        errors.append(b_standard_error(mags, 2.5, b, below=below))
    assert np.mean(errors) == pytest.approx(np.std(estimates), rel=0.1)
    assert np.mean(errors) > (0.07 if math.isfinite(below) else 0.05)
    continuous = gutenberg_richter(rng, 300, 1.0, 2.5)
    assert b_standard_error(continuous, 2.5, 1.0, dm=1e-6) == pytest.approx(1.0 / math.sqrt(300), rel=1e-3)
    assert np.isnan(b_standard_error(continuous, 2.5, math.nan))


def test_b_value_needs_min_count():
    b, reason = b_value_aki_utsu(np.array([2.0, 2.1, 2.5]), mc=2.0, min_count=50)
    assert np.isnan(b) and "3 events" in reason and "min_count=50" in reason
    assert np.isnan(b_value_aki_utsu(np.ones(100), mc=np.nan)[0])


def test_mc_max_curvature_finds_completeness():
    rng = np.random.default_rng(3)
    mags = gr_magnitudes(200_000, seed=3)
    detected = rng.uniform(size=mags.size) < norm.cdf((mags - 1.2) / 0.15)  # complete (>97 %) from M1.5
    mc = mc_max_curvature(np.round(mags[detected], 1))
    assert abs(mc - 1.5) <= 0.2
    assert mc_max_curvature(np.round(mags[detected], 1), correction=0.0) == pytest.approx(mc - 0.2)
    assert np.isnan(mc_max_curvature([]))


def catalog_frame(times, lats, lons, mags, depths=None):
    n = len(times)
    return pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "time": pd.to_datetime(list(times), utc=True).as_unit("ns"),
        "latitude_deg": np.asarray(lats, float), "longitude_deg": np.asarray(lons, float),
        "depth_km": np.full(n, 10.0) if depths is None else np.asarray(depths, float),
        "magnitude": np.asarray(mags, float), "magnitude_type": "ML", "event_type": "earthquake",
    })


def test_gardner_knopoff_removes_planted_aftershocks():
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2016-01-01", tz="UTC")
    # a M5.5 mainshock (window ~48 km, ~290 d) with 40 aftershocks within 10 km and 60 d and one foreshock
    after_t = t0 + pd.to_timedelta(rng.uniform(0.01, 60, 40), unit="D")
    times = [t0, t0 - pd.Timedelta(days=1), *after_t,
             t0 + pd.Timedelta(days=30),    # M4 200 km away: independent
             t0 + pd.Timedelta(days=400),   # M3 at the same place after the window: independent
             t0 + pd.Timedelta(days=30.5)]  # M2 5 km from the far M4: its aftershock
    lats = [42.8, 42.81, *(42.8 + rng.uniform(-0.05, 0.05, 40)), 44.6, 42.8, 44.63]
    lons = [13.1, 13.1, *(13.1 + rng.uniform(-0.05, 0.05, 40)), 13.1, 13.1, 13.12]
    mags = [5.5, 3.0, *rng.uniform(1.0, 4.5, 40), 4.0, 3.0, 2.0]
    cat = catalog_frame(times, lats, lons, mags)
    main = gardner_knopoff_mainshocks(cat)
    assert main.dtype == bool and main.shape == (len(cat),)
    assert main[0] and not main[1] and not main[2:42].any()
    assert main[42] and main[43] and not main[44]
    assert gardner_knopoff_mainshocks(cat, foreshock_fraction=0.0)[1]  # aftershock-only windows keep the foreshock


def naive_features(cat, start, end, min_count):
    sub = cat[(cat["time"] >= start) & (cat["time"] < end)]
    n = len(sub)
    mc = mc_max_curvature(sub["magnitude"]) if n >= min_count else np.nan
    b = b_value_aki_utsu(sub["magnitude"], mc, min_count=min_count)[0] if n >= min_count else np.nan
    return n, (sub["magnitude"].max() if n else np.nan), mc, b


def test_window_features_hand_checked():
    t0 = pd.Timestamp("2016-08-24", tz="UTC")
    # two events 0.2 deg of latitude apart (22.24 km): RMS distance from their centroid is half of that
    cat = catalog_frame([t0, t0 + pd.Timedelta(hours=1), t0 + pd.Timedelta(hours=5)],
                        [42.7, 42.9, 43.0], [13.2, 13.2, 13.2], [4.0, 5.0, 2.0], depths=[8.0, 12.0, 1.0])
    starts = [t0 + pd.Timedelta(hours=h) for h in (0, 0, 1, 2)]
    ends = [t0 + pd.Timedelta(hours=h) for h in (2, 1, 6, 3)]
    f = window_catalog_features(cat, starts, ends, min_count_b=2)
    assert list(f.columns) == FEATURE_COLUMNS
    assert list(f["n_events"]) == [2, 1, 2, 0]  # half-open: the event at end_time is outside
    assert f["max_magnitude"].iloc[0] == 5.0 and np.isnan(f["max_magnitude"].iloc[3])
    assert f["log10_cumulative_moment_Nm"].iloc[0] == pytest.approx(np.log10(10**15.1 + 10**16.6))
    assert f["spatial_spread_km"].iloc[0] == pytest.approx(0.5 * 6371.0 * np.radians(0.2), rel=1e-4)
    assert f["spatial_spread_km"].iloc[1] == pytest.approx(0.0, abs=1e-3)  # one event: no spread (to 1 m)
    assert f["mean_depth_km"].iloc[0] == 10.0 and f["rate_per_hour"].iloc[0] == 1.0
    assert np.isnan(f.loc[3, ["spatial_spread_km", "mean_depth_km", "log10_cumulative_moment_Nm"]].astype(float)).all()
    assert f["b_value_reason"].iloc[1].startswith("1 ") and f["b_value_reason"].iloc[3].startswith("0 ")


def test_window_features_match_per_window_reference():
    rng = np.random.default_rng(5)
    t0 = pd.Timestamp("2016-08-01", tz="UTC")
    n = 3000
    cat = catalog_frame(t0 + pd.to_timedelta(np.sort(rng.uniform(0, 100, n)), unit="D"),
                        rng.uniform(42.5, 43.2, n), rng.uniform(12.8, 13.5, n),
                        np.round(gr_magnitudes(n, m_min=0.95), 1))
    starts = t0 + pd.to_timedelta(rng.uniform(-5, 100, 60), unit="D")
    ends = starts + pd.to_timedelta(rng.uniform(0.1, 30, 60), unit="D")
    f = window_catalog_features(cat, starts, ends, min_count_b=50)
    for k in range(60):
        n_k, max_k, mc_k, b_k = naive_features(cat, starts[k], ends[k], 50)
        assert f["n_events"].iloc[k] == n_k
        np.testing.assert_allclose([f["max_magnitude"].iloc[k], f["mc"].iloc[k], f["b_value"].iloc[k]],
                                   [max_k, mc_k, b_k], rtol=1e-9, equal_nan=True)
        assert (f["b_value_reason"].iloc[k] == "") == np.isfinite(b_k)
    assert f["b_value"].notna().sum() > 20  # the comparison covered defined b-values


def test_window_features_fast_and_validated():
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2016-08-01", tz="UTC")
    cat = catalog_frame(t0 + pd.to_timedelta(rng.uniform(0, 180, 4000), unit="D"), rng.uniform(42.5, 43.2, 4000),
                        rng.uniform(12.8, 13.5, 4000), np.round(gr_magnitudes(4000, m_min=0.95), 1))
    starts = t0 + pd.to_timedelta(rng.uniform(0, 170, 10_000), unit="D")
    ends = starts + pd.to_timedelta(rng.choice([2, 6, 12, 24, 240], 10_000), unit="h")
    tic = time.perf_counter()
    f = window_catalog_features(cat, starts, ends)
    assert time.perf_counter() - tic < 1.0 and len(f) == 10_000
    with pytest.raises(SeisbindInputError, match="end at or before"):
        window_catalog_features(cat, ends[:3], starts[:3])


def test_one_event_under_two_ids_within_a_second_and_5_km_is_read_once(tmp_path, caplog):
    """An event listed twice with two magnitudes (ML and Mw, slightly different locations): one event, counted
    and named with both magnitudes; an event 2 s later, or 1 s away but 20 km off, is another event."""
    rows = ("event_id,time,lat,lon,depth,mag,magnitude_type\n"
            "a,2016-10-30T06:40:18.0,42.830,13.110,9.2,6.5,Mw\n"
            "b,2016-10-30T06:40:18.6,42.845,13.120,9.0,6.1,ML\n"
            "c,2016-10-30T06:40:20.5,42.830,13.110,9.2,3.0,ML\n"
            "d,2016-10-30T06:40:19.0,43.010,13.110,9.2,2.5,ML\n")
    with caplog.at_level(logging.WARNING):
        cat = read_catalog(write(tmp_path / "catalog.csv", rows))
    assert list(cat["event_id"]) == ["a", "d", "c"]
    assert "catalog.csv: 1 records within 1 s and 5 km of another read once" in caplog.text
    assert "b M6.1 (= a M6.5)" in caplog.text
    # of two records the larger magnitude stays, whichever is listed first
    flipped = rows.replace("a,2016-10-30T06:40:18.0", "a,2016-10-30T06:40:18.9")
    lines = flipped.splitlines()
    cat = read_catalog(write(tmp_path / "flipped.csv", "\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n"))
    assert set(cat["event_id"]) == {"a", "c", "d"}
