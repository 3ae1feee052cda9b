"""Animal accelerometer data from Movebank CSV exports (e-obs tags) and its reduction to ODBA per time bin.

e-obs tags record bursts: one CSV row per burst, `eobs:accelerations-raw` holding the raw ADC counts with the
axes interleaved (X Y Z X Y Z ...). ODBA (overall dynamic body acceleration, Wilson et al. 2006) removes the
static (gravity and sensor offset) part with a running mean and sums the absolute dynamic part over the axes;
Wikelski et al. (2020) used its mean per 15-min bin per animal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from seisbind.data.catalog import apply_bad_row_policy
from seisbind.errors import SeisbindInputError
from seisbind.geodesy import median_positions

log = logging.getLogger(__name__)

TIMESTAMP = "timestamp"
INDIVIDUAL = "individual-local-identifier"
TAG = "tag-local-identifier"
SENSOR = "sensor-type"
TAXON = "individual-taxon-canonical-name"
RAW = "eobs:accelerations-raw"
AXES = "eobs:acceleration-axes"
SAMPLING_HZ = "eobs:acceleration-sampling-frequency-per-axis"
LONGITUDE = "location-long"
LATITUDE = "location-lat"
REQUIRED = (TIMESTAMP, INDIVIDUAL, SENSOR, RAW, SAMPLING_HZ)
BURST_COLUMNS = ["timestamp", "individual", "tag", "taxon", "sampling_hz", "axes", "raw", "source", "line"]


def read_movebank(paths: str | Path | Iterable[str | Path], *, on_bad: str = "raise") -> pd.DataFrame:
    """Acceleration bursts from one or more Movebank CSV files, one row per burst.

    Columns: timestamp (UTC burst start), individual, tag, taxon, sampling_hz (per axis), axes (e.g. "XYZ"),
    raw (int32 array shaped (n_samples, n_axes), raw counts), source (file) and line (CSV line, header = 1).
    Rows of other sensor types (GPS, ...) are counted per type, logged and ignored. A malformed burst (sample
    count not divisible by the number of axes, non-integer or missing samples, bad timestamp or sampling
    rate) raises SeisbindInputError naming file and line (on_bad="raise") or is skipped and counted ("skip").
    One animal recording on two tags at once raises (`_check_one_tag_at_a_time`). Sorted by individual then time.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    frames = [_read_one(path, on_bad) for path in paths]
    bursts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BURST_COLUMNS)
    if bursts.empty:
        raise SeisbindInputError(f"no acceleration bursts in {[str(p) for p in paths]}")
    bursts = bursts.sort_values(["individual", "timestamp"], kind="stable").reset_index(drop=True)
    _check_one_tag_at_a_time(bursts)
    return bursts


def read_movebank_positions(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Where each tagged animal was: one row per individual (seisbind.geodesy.median_positions: sensor, latitude_deg,
    longitude_deg, n_fixes), the median of the `location-lat`/`location-long` of its rows of any sensor type (GPS
    fixes and acceleration bursts alike: e-obs exports give bursts a location only when a fix came with them).

    Only those three columns are read. Files without them, or rows with empty coordinates, add nothing: the table
    may be empty, and whoever needs positions says so. One position per animal over its whole record suits tags that
    stay near a farm (Wikelski et al. 2020: stable and pasture within a few hundred metres); it does not follow
    animals that roam tens of kilometres."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    frames = []
    for path in paths:
        try:
            header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
            wanted = [INDIVIDUAL, LATITUDE, LONGITUDE]
            if not set(wanted) <= set(header):
                log.info("%s: no %s columns; no animal position from it", path, [c for c in wanted if c not in header])
                continue
            frames.append(pd.read_csv(path, usecols=wanted, dtype=str, keep_default_na=False, engine="pyarrow",
                                      encoding="utf-8-sig"))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise SeisbindInputError(f"{path}: unreadable Movebank CSV: {err}") from err
    fixes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[INDIVIDUAL, LATITUDE, LONGITUDE])
    return median_positions(fixes[INDIVIDUAL].str.strip(), pd.to_numeric(fixes[LATITUDE], errors="coerce"),
                            pd.to_numeric(fixes[LONGITUDE], errors="coerce"))


def _check_one_tag_at_a_time(bursts: pd.DataFrame) -> None:
    """An animal may change tags (Movebank deployments follow one another) but not record on two at once: its
    ODBA per bin would be the mean of two tags whose counts differ in scale (e-obs calibrations are per tag), and
    nothing says which tag is the animal's. Overlapping tag periods of one individual are an error naming the
    animal, both tags and the first time the later one records while the other still does."""
    spans = bursts.groupby(["individual", "tag"], sort=False)["timestamp"].agg(["min", "max", "idxmin"])
    for individual, tags in spans[spans.index.get_level_values(0).duplicated(keep=False)].groupby(level=0):
        tags = tags.droplevel(0).sort_values("min")
        ended = tags["max"].cummax().shift()
        overlapping = np.flatnonzero((tags["min"] <= ended).to_numpy())
        if overlapping.size:
            later = tags.iloc[overlapping[0]]
            earlier = tags.index[int(np.argmax((tags["max"].iloc[:overlapping[0]] >= later["min"]).to_numpy()))]
            burst = bursts.loc[later["idxmin"]]
            raise SeisbindInputError(
                f"animal {individual!r} records on tags {earlier!r} and {burst['tag']!r} at once, first at "
                f"{burst['timestamp'].isoformat()} ({burst['source']} line {burst['line']}); one animal's ODBA "
                f"cannot be the mean of two tags: keep one tag's rows, or give each tag its own "
                f"individual-local-identifier")


def _read_one(path: Path, on_bad: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow",  # 3x the C engine here
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SeisbindInputError(f"{path}: unreadable Movebank CSV: {err}") from err
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise SeisbindInputError(f"{path}: missing Movebank column(s) {missing}")
    table["line"] = np.arange(len(table)) + 2
    sensor = table[SENSOR].str.strip().str.lower()
    others = sensor[sensor != "acceleration"].value_counts()
    if len(others):
        counted = ", ".join(f"{n} {kind or '(empty)'}" for kind, n in others.items())
        log.info("%s: ignored %s rows (not acceleration)", path, counted)
    table = table[sensor == "acceleration"]

    timestamps = pd.to_datetime(table[TIMESTAMP].str.strip(), format="ISO8601", utc=True, errors="coerce")
    sampling_hz = pd.to_numeric(table[SAMPLING_HZ].str.strip(), errors="coerce").to_numpy(np.float64)
    axes = table[AXES].str.strip().str.upper() if AXES in table else pd.Series("XYZ", index=table.index)
    n_axes = np.maximum(axes.str.len().to_numpy(), 1)
    texts = table[RAW].tolist()
    samples, counts, token_problems = _parse_samples(texts)
    # (reason, bad-row mask, detail) in order of precedence: a row is reported once, for its first problem
    checks = [
        ("bad timestamp", timestamps.isna().to_numpy(), table[TIMESTAMP].tolist()),
        ("bad sampling frequency", ~(np.isfinite(sampling_hz) & (sampling_hz > 0)), table[SAMPLING_HZ].tolist()),
        ("bad axes", ~axes.str.fullmatch("[XYZ]+").to_numpy(bool), axes.tolist()),
        ("non-integer or out-of-range sample", np.isin(np.arange(len(table)), list(token_problems)), texts),
        ("empty burst", counts == 0, texts),
        ("sample count not divisible by axes", counts % n_axes != 0, [f"{c} values" for c in counts]),
    ]
    good = np.ones(len(table), dtype=bool)
    bad_rows: dict[int, tuple[str, str]] = {}
    for reason, mask, details in checks:
        for k in np.flatnonzero(mask & good):
            bad_rows[k] = (reason, repr(str(details[k])[:60]))
        good &= ~mask
    lines = table["line"].to_numpy()
    apply_bad_row_policy(path, [(f"line {lines[k]}", *bad_rows[k]) for k in sorted(bad_rows)], on_bad)
    raws = [samples[k].reshape(-1, n_axes[k]) for k in np.flatnonzero(good)]
    table = table[good]
    return pd.DataFrame(
        {
            "timestamp": timestamps[good].dt.as_unit("ns"),
            "individual": table[INDIVIDUAL].str.strip(),
            "tag": table[TAG].str.strip() if TAG in table else "",
            "taxon": table[TAXON].str.strip() if TAXON in table else "",
            "sampling_hz": sampling_hz[good],
            "axes": axes[good],
            "raw": pd.Series(raws, index=table.index, dtype=object),
            "source": str(path),
            "line": table["line"].astype(np.int64),
        }
    )


def _parse_samples(texts: list[str]) -> tuple[list[np.ndarray], np.ndarray, set[int]]:
    """int32 samples of each burst text (views of one buffer), their counts, and the rows that are not all
    integers within int32 (those get no samples).

    Fast path: one numpy parse of all bursts joined by single spaces, split by per-row token counts; it is
    taken only when single spaces are the sole separators (then count = spaces + 1 exactly for every row).
    Otherwise, or when anything fails, rows are parsed one by one to name the bad ones.
    """
    joined = " ".join(texts)
    if texts and joined == joined.strip() and not any(ws in joined for ws in ("  ", "\t", "\r", "\n")):
        counts = np.fromiter((text.count(" ") + 1 for text in texts), dtype=np.int64, count=len(texts))
        try:
            flat = np.fromstring(joined, dtype=np.int64, sep=" ")
        except ValueError:
            flat = None
        if flat is not None and flat.size == counts.sum() and np.abs(flat).max() < 2**31:
            return np.split(flat.astype(np.int32), np.cumsum(counts)[:-1]), counts, set()
    parsed, problems = [], set()
    for k, text in enumerate(texts):
        try:  # numpy's text parser raises on any non-integer token
            parsed.append(np.fromstring(text, dtype=np.int64, sep=" "))
        except ValueError:
            problems.add(k)
            parsed.append(np.empty(0, dtype=np.int64))
    counts = np.fromiter(map(len, parsed), dtype=np.int64, count=len(parsed))
    flat = np.concatenate(parsed) if parsed else np.empty(0, dtype=np.int64)
    too_big = np.abs(flat) >= 2**31
    if too_big.any():
        problems |= set(np.repeat(np.arange(counts.size), counts)[too_big].tolist())
    return np.split(flat.astype(np.int32), np.cumsum(counts)[:-1]), counts, problems


def burst_odba(
    bursts: pd.DataFrame,
    running_mean_s: float = 2.0,
    g_per_count: float | Mapping[str, float] | None = None,
    chunk: int = 2048,
) -> np.ndarray:
    """Mean ODBA of each burst: mean over samples of sum over axes |a - running mean(a)|.

    The running mean spans round(running_mean_s * sampling_hz) samples (centred, mirrored at the burst ends,
    scipy.ndimage.uniform_filter1d); a burst no longer than that uses its own mean. The ADC offset cancels in
    a - running mean; the scale does not: `g_per_count` (one float, or a mapping tag -> float) converts
    counts to g and must come from each tag's own calibration (e-obs tags differ), None keeps raw counts.
    Bursts of equal shape and rate are filtered together, so the cost is a few array operations per shape.
    """
    scale = _scales(bursts, g_per_count)
    odba = np.empty(len(bursts))
    raws = bursts["raw"].to_numpy()
    shapes = pd.DataFrame({"shape": [r.shape for r in raws], "hz": bursts["sampling_hz"].to_numpy()})
    for ((n_samples, _), hz), group in shapes.groupby(["shape", "hz"], sort=False).indices.items():
        window = max(1, int(round(running_mean_s * hz)))
        for first in range(0, group.size, chunk):  # chunks keep the float arrays in cache
            rows = group[first:first + chunk]
            acc = np.stack(raws[rows]).astype(np.float64) * scale[rows, None, None]
            if window >= n_samples:
                static = acc.mean(axis=1, keepdims=True)
            else:
                static = uniform_filter1d(acc, size=window, axis=1, mode="mirror")
            acc -= static
            odba[rows] = np.abs(acc, out=acc).sum(axis=2).mean(axis=1)
    return odba


def _scales(bursts: pd.DataFrame, g_per_count: float | Mapping[str, float] | None) -> np.ndarray:
    if g_per_count is None:
        return np.ones(len(bursts))
    if isinstance(g_per_count, Mapping):
        unknown = sorted(set(bursts["tag"]) - set(map(str, g_per_count)))
        if unknown:
            raise SeisbindInputError(f"g_per_count has no calibration for tag(s) {unknown}")
        return bursts["tag"].map({str(k): float(v) for k, v in g_per_count.items()}).to_numpy(np.float64)
    return np.full(len(bursts), float(g_per_count))


def odba_bins(
    bursts: pd.DataFrame,
    bin_minutes: float = 15,
    running_mean_s: float = 2.0,
    g_per_count: float | Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Mean burst ODBA per individual per `bin_minutes` bin, as a wide frame.

    Index: bin start (UTC), regular from the first to the last bin with data; columns: individual ids;
    NaN where an individual has no burst in a bin (gaps stay gaps, nothing is interpolated).
    ``attrs["taxon"]`` maps individual -> taxon, ``attrs["odba_unit"]`` is "g" with a calibration, else "count".
    """
    if bursts.empty:
        raise SeisbindInputError("odba_bins: no bursts")
    freq = pd.Timedelta(minutes=bin_minutes)
    per_burst = pd.DataFrame(
        {
            "bin_start": bursts["timestamp"].dt.floor(freq),
            "individual": bursts["individual"].to_numpy(),
            "odba": burst_odba(bursts, running_mean_s, g_per_count),
        }
    )
    wide = per_burst.groupby(["bin_start", "individual"])["odba"].mean().unstack("individual")
    index = pd.date_range(wide.index.min(), wide.index.max(), freq=freq, name="bin_start")
    wide = wide.reindex(index).sort_index(axis=1)
    wide.columns.name = "individual"
    wide.attrs["taxon"] = bursts.groupby("individual")["taxon"].first().to_dict()
    wide.attrs["odba_unit"] = "count" if g_per_count is None else "g"
    return wide
