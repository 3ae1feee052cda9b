"""Continuous multi-station waveforms (any ObsPy-readable files) and station tables, made ready for windowing.

Why: station-anomaly studies (the Lambda³ Noto report used F-net WIN32 files) start from raw continuous files with gaps,
several channel bands per station and differing sampling rates. Every station must end up on one sampling rate, in E, N,
Z row order, with a mask of where data really exist and a record of what was done to it, so that each score can be
traced back to its processing. Files are first indexed from their headers only, then read one station at a time, so a
network of long records never has to sit in memory at once.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import obspy
import pandas as pd
from scipy.signal import detrend, resample_poly

from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)

ENZ = "ENZ"
# Component letter (last character of a SEED channel code) -> row in the (3, n) E, N, Z array. Numbered
# components (1, 2 = horizontals of unknown azimuth, 3 = vertical) are taken as N, E, Z without rotation;
# the processing report says so, because the band-power features do not depend on the horizontal azimuth.
COMPONENT_ROWS = {"E": 0, "2": 0, "N": 1, "1": 1, "Z": 2, "3": 2}
STATION_COLUMNS = ["network", "station", "latitude", "longitude", "elevation_m"]
_COLUMN_ALIASES = {
    "network": ("network", "net", "network_code", "station_network_code"),
    "station": ("station", "sta", "station_code"),
    "latitude": ("latitude", "lat", "latitude_deg", "station_latitude_deg"),
    "longitude": ("longitude", "lon", "long", "longitude_deg", "station_longitude_deg"),
    "elevation_m": ("elevation_m", "elevation", "elev", "station_elevation_m"),
}


@dataclass
class StationRecord:
    """One station's continuous record on a common sampling rate.

    `data` is float32 (3, n_samples) in E, N, Z order; rows of absent components and samples inside gaps are 0,
    and `valid` (n_samples,) is True only where every present component recorded data, so a window touching a gap
    can be recognised instead of scoring zeros as if they were ground motion.
    """

    network: str
    station: str
    starttime: pd.Timestamp
    sampling_rate_hz: float
    data: np.ndarray
    valid: np.ndarray
    components: str
    native_sampling_rate_hz: float
    processing: dict = field(default_factory=dict)

    @property
    def seed_id(self) -> str:
        return f"{self.network}.{self.station}"

    @property
    def endtime(self) -> pd.Timestamp:
        return self.starttime + pd.Timedelta(seconds=(self.data.shape[1] - 1) / self.sampling_rate_hz)

    @property
    def component_rows(self) -> list[int]:
        return [ENZ.index(c) for c in self.components]


def expand_waveform_paths(pattern: str | Sequence[str]) -> list[str]:
    """Files matching a glob (or a list of globs; a directory means every file in it), sorted."""
    patterns = [pattern] if isinstance(pattern, str | os.PathLike) else list(pattern)
    paths: set[str] = set()
    for item in patterns:
        item = str(item)
        if os.path.isdir(item):
            item = os.path.join(item, "*")
        paths.update(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
    if not paths:
        raise SeisbindInputError(f"data.waveforms={pattern!r} matches no files")
    return sorted(paths)


def index_waveform_files(
    pattern: str | Sequence[str], *, format: str | None = None, on_bad_file: str = "skip"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Header-only index of every trace in the matched files: one row per trace.

    Returns (index, skipped_files) where skipped_files maps an unreadable file to the reason; with
    on_bad_file="raise" the first unreadable file raises instead. A folder of MiniSEED often also holds the
    StationXML or a README, so skipping (counted, with the reason) is the default.
    """
    if on_bad_file not in ("skip", "raise"):
        raise SeisbindInputError(f"data.on_bad_file must be 'skip' or 'raise', got {on_bad_file!r}")
    rows, skipped = [], {}
    for path in expand_waveform_paths(pattern):
        try:
            stream = obspy.read(path, format=format, headonly=True)
            reason = None if len(stream) else "file holds no traces"
        except Exception as exc:  # ObsPy raises TypeError, ValueError, IOError ... depending on the format plugin
            stream, reason = [], f"ObsPy cannot read it ({type(exc).__name__}: {exc})"
        if reason is not None:
            if on_bad_file == "raise":
                raise SeisbindInputError(f"{path}: {reason}")
            log.warning("skipping %s: %s", path, reason)
            skipped[path] = reason
            continue
        for tr in stream:
            s = tr.stats
            rows.append(
                {
                    "path": path,
                    "network": s.network,
                    "station": s.station,
                    "location": s.location,
                    "channel": s.channel,
                    "starttime": pd.Timestamp(s.starttime.datetime, tz="UTC"),
                    "endtime": pd.Timestamp(s.endtime.datetime, tz="UTC"),
                    "sampling_rate_hz": float(s.sampling_rate),
                }
            )
    if not rows:
        raise SeisbindInputError(f"data.waveforms={pattern!r}: no readable waveform file ({len(skipped)} skipped: "
                                 f"{next(iter(skipped.items()), '')})")
    return pd.DataFrame(rows), skipped


def _choose_channel_group(rows: pd.DataFrame, channel_priority: Sequence[str] | None) -> tuple[str, str]:
    """(location, band+instrument code) of the channel group to use for one station.

    Default: highest sampling rate, then most E/N/Z components, then longest coverage; with channel_priority
    (e.g. ["HH", "BH"]) the first listed code present wins.
    """
    rows = rows.assign(band=rows["channel"].str[:-1], letter=rows["channel"].str[-1],
                       seconds=(rows["endtime"] - rows["starttime"]).dt.total_seconds())
    rows = rows[rows["letter"].isin(list(COMPONENT_ROWS))]
    if rows.empty:
        return "", ""
    groups = rows.groupby(["location", "band"]).agg(
        rate=("sampling_rate_hz", "max"), n_components=("letter", "nunique"), seconds=("seconds", "sum"))
    order = list(channel_priority or [])
    groups["priority"] = [order.index(b) if b in order else len(order) for _, b in groups.index]
    if order and (groups["priority"] == len(order)).all():
        return "", ""
    groups = groups.sort_values(["priority", "rate", "n_components", "seconds"],
                                ascending=[True, False, False, False])
    return groups.index[0]


def _runs(mask: np.ndarray) -> np.ndarray:
    """(start, stop) index pairs of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def _merge_component(stream: obspy.Stream, label: str) -> tuple[obspy.Trace, dict]:
    """Merge one component's traces; gaps stay masked, overlaps are resolved by ObsPy's merge(method=1)."""
    gaps = stream.get_gaps()
    report = {
        "n_gaps": sum(1 for g in gaps if g[6] > 0),
        "gap_seconds": round(float(sum(g[6] for g in gaps if g[6] > 0)), 3),
        "n_overlaps": sum(1 for g in gaps if g[6] <= 0),
    }
    try:
        stream.merge(method=1, fill_value=None)
    except Exception as exc:  # ObsPy refuses traces of one id with differing sampling rates or dtypes
        raise SeisbindInputError(f"{label}: cannot merge its traces ({exc})") from exc
    return stream[0], report


def _interpolate_short_gaps(x: np.ndarray, missing: np.ndarray, max_samples: int) -> int:
    """Linearly fill masked runs of at most max_samples that have data on both sides (in place); returns count."""
    filled = 0
    for start, stop in _runs(missing):
        if stop - start <= max_samples and start > 0 and stop < len(x):
            x[start:stop] = np.interp(np.arange(start, stop), [start - 1, stop], [x[start - 1], x[stop]])
            missing[start:stop] = False
            filled += 1
    return filled


def _resample(x: np.ndarray, native_hz: float, target_hz: float) -> np.ndarray:
    """Polyphase resampling (anti-alias FIR included) by the rational factor target/native."""
    if native_hz == target_hz:
        return x
    ratio = Fraction(target_hz / native_hz).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def load_station(
    index: pd.DataFrame,
    network: str,
    station: str,
    *,
    sampling_rate_hz: float,
    format: str | None = None,
    channel_priority: Sequence[str] | None = None,
    max_interpolated_gap_seconds: float = 1.0,
) -> StationRecord:
    """Read, merge, gap-fill, detrend and resample one station's continuous data into a StationRecord.

    Per component: traces are merged; gaps up to max_interpolated_gap_seconds are linearly interpolated (timing
    jitter, single lost records), longer ones stay invalid; each contiguous segment is linearly detrended and
    resampled to sampling_rate_hz, then placed on the station's sample grid (nearest sample). Raises
    SeisbindInputError (the caller counts it as a skip) when the station has no usable E/N/Z channel.
    """
    sid = f"{network}.{station}"
    rows = index[(index["network"] == network) & (index["station"] == station)]
    location, band = _choose_channel_group(rows, channel_priority)
    if not band:
        raise SeisbindInputError(
            f"{sid}: no channel with an E/N/Z/1/2/3 component code"
            + (f" in data.channel_priority={list(channel_priority)}" if channel_priority else "")
            + f" (channels: {sorted(set(rows['location'] + '.' + rows['channel']))})")
    chosen = rows[(rows["location"] == location) & (rows["channel"].str[:-1] == band)]
    ignored = sorted(set(rows["location"] + "." + rows["channel"]) - set(chosen["location"] + "." + chosen["channel"]))
    stream = obspy.Stream()
    for path in chosen["path"].unique():
        stream += obspy.read(path, format=format).select(network=network, station=station, location=location,
                                                         channel=f"{band}?")
    by_row: dict[int, obspy.Stream] = {}
    for channel in sorted(set(tr.stats.channel for tr in stream)):
        row = COMPONENT_ROWS.get(channel[-1])
        if row is None or row in by_row:
            ignored.append(f"{location}.{channel}")
            continue
        by_row[row] = stream.select(channel=channel)

    merged, reports = {}, {}
    for row, comp in by_row.items():
        tr, reports[ENZ[row]] = _merge_component(comp, f"{sid}.{location}.{comp[0].stats.channel}")
        merged[row] = tr
    native_hz = max(tr.stats.sampling_rate for tr in merged.values())
    t0 = min(tr.stats.starttime for tr in merged.values())
    t1 = max(tr.stats.endtime for tr in merged.values())
    n_samples = int(round((t1 - t0) * sampling_rate_hz)) + 1
    data = np.zeros((3, n_samples), np.float32)
    valid = np.ones(n_samples, bool)
    for row, tr in merged.items():
        fs = tr.stats.sampling_rate
        x = np.ma.getdata(tr.data).astype(np.float64)
        missing = np.ma.getmaskarray(tr.data).copy()
        report = reports[ENZ[row]]
        report["interpolated_gaps"] = _interpolate_short_gaps(x, missing, int(max_interpolated_gap_seconds * fs))
        report["masked_seconds"] = round(float(missing.sum() / fs), 3)
        row_valid = np.zeros(n_samples, bool)
        for start, stop in _runs(~missing):
            segment = detrend(x[start:stop], type="linear") if stop - start > 1 else x[start:stop] - x[start]
            y = _resample(segment, fs, sampling_rate_hz)
            offset = int(round((tr.stats.starttime + start / fs - t0) * sampling_rate_hz))
            y = y[: max(0, n_samples - offset)]
            data[row, offset:offset + len(y)] = y
            row_valid[offset:offset + len(y)] = True
        valid &= row_valid
        report["native_sampling_rate_hz"] = fs
    resampled = any(tr.stats.sampling_rate != sampling_rate_hz for tr in merged.values())
    components = "".join(ENZ[r] for r in sorted(merged))
    processing = {
        "location": location,
        "channels": [tr.stats.channel for _, tr in sorted(merged.items())],
        "components": components,
        "resampled_from_hz": native_hz if resampled else None,
        "resampling": "polyphase FIR (scipy.signal.resample_poly)" if resampled else None,
        "detrend": "linear, per contiguous segment",
        "merged_gaps": sum(r["n_gaps"] for r in reports.values()),
        "per_component": reports,
        "ignored_channels": ignored,
        "unrotated_numbered_components": any(tr.stats.channel[-1] in "123" for tr in merged.values()),
        "n_files": int(chosen["path"].nunique()),
        "valid_fraction": round(float(valid.mean()), 4),
    }
    return StationRecord(network, station, pd.Timestamp(t0.datetime, tz="UTC"), float(sampling_rate_hz), data,
                         valid, components, float(native_hz), processing)


def read_station_table(path: str | os.PathLike) -> pd.DataFrame:
    """Station coordinates from a CSV (network, station, latitude, longitude[, elevation]) or any inventory ObsPy
    reads (StationXML, dataless SEED, FDSN station text, ...), as columns STATION_COLUMNS, one row per station.

    Stations listed with several epochs keep their first listed coordinates (a moved station should be given a
    table with the epoch that covers the record).
    """
    path = Path(path)
    if not path.is_file():
        raise SeisbindInputError(f"data.stations={str(path)!r}: no such file")
    if path.suffix.lower() == ".csv":
        table = _read_station_csv(path)
    else:
        try:
            inventory = obspy.read_inventory(str(path))
        except Exception as exc:  # ObsPy tries every inventory plugin and raises whatever the last one raised
            raise SeisbindInputError(
                f"{path}: not a .csv station table and ObsPy cannot read it as an inventory ({exc})") from exc
        table = pd.DataFrame(
            [(net.code, sta.code, sta.latitude, sta.longitude, sta.elevation) for net in inventory for sta in net],
            columns=STATION_COLUMNS)
    if table.empty:
        raise SeisbindInputError(f"{path}: lists no station")
    table = table.drop_duplicates(["network", "station"], keep="first").reset_index(drop=True)
    table[["latitude", "longitude", "elevation_m"]] = table[["latitude", "longitude", "elevation_m"]].astype(float)
    return table


def _read_station_csv(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    lower = {c.strip().lower(): c for c in raw.columns}
    columns = {}
    for name, aliases in _COLUMN_ALIASES.items():
        found = next((lower[a] for a in aliases if a in lower), None)
        if found is None and name != "elevation_m":
            raise SeisbindInputError(f"{path}: no {name!r} column (accepted names: {', '.join(aliases)}); "
                                     f"found {list(raw.columns)}")
        columns[name] = found
    table = pd.DataFrame({"network": raw[columns["network"]].str.strip(),
                          "station": raw[columns["station"]].str.strip()})
    for name, low, high in (("latitude", -90, 90), ("longitude", -180, 360), ("elevation_m", -12000, 9000)):
        if columns[name] is None:
            table[name] = np.nan
            continue
        values = pd.to_numeric(raw[columns[name]], errors="coerce")
        bad = values.isna() | (values < low) | (values > high)
        if name == "elevation_m":
            bad &= raw[columns[name]].str.strip() != ""
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise SeisbindInputError(f"{path}, line {line}: {name} {raw[columns[name]].iloc[line - 2]!r} is not a "
                                     f"number in [{low}, {high}]")
        table[name] = values
    return _collapse_repeated_stations(path, table)


def _collapse_repeated_stations(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """A CSV table with each station once: a repeated identical row is dropped (counted in a warning); two rows
    giving one station different coordinates are an error naming both lines, since nothing says which is right
    (a CSV, unlike an inventory, has no epochs)."""
    coordinates = table[["latitude", "longitude", "elevation_m"]].fillna(np.inf)   # a blank elevation equals one
    repeated = table.duplicated(["network", "station"], keep=False).to_numpy()
    for _, group in table[repeated].groupby(["network", "station"], sort=False):
        first = group.index[0]
        differ = (coordinates.loc[group.index] != coordinates.loc[first]).any(axis=1)
        if differ.any():
            other = differ.index[differ.to_numpy()][0]
            raise SeisbindInputError(
                f"{path}: station {table.at[first, 'network']}.{table.at[first, 'station']} is listed with different "
                f"coordinates on line {first + 2} ({_coordinates(table.loc[first])}) and line {other + 2} "
                f"({_coordinates(table.loc[other])}); keep one")
    unique = table.drop_duplicates(["network", "station"], keep="first")
    if len(unique) < len(table):
        log.warning("%s: %d repeated identical station row(s) collapsed", path, len(table) - len(unique))
    return unique


def _coordinates(row: pd.Series) -> str:
    return ", ".join(f"{name} {row[name]:g}" for name in ("latitude", "longitude", "elevation_m")
                     if pd.notna(row[name]))
