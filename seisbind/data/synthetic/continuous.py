"""Synthetic multi-station continuous recordings, written as MiniSEED + StationXML (or CSV) through ObsPy.

Why: the station-anomaly probe (seisbind.probe.stations.analysis) makes claims that need a known truth. This generator
plants a pre-event spectral change at chosen stations, so a test can check that those stations rank highest and
that the pre-vs-background AUC leaves 0.5, and that with nothing planted it does not. The records also carry
what real networks throw at a reader: a 50 Hz and a 200 Hz station, a gap, a vertical-only station, local
transients at every station (the heavy tail of real noise) and the event itself, whose shaking decays with
distance so the onset jump has a distance trend to find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import obspy
import pandas as pd
from obspy.core.inventory import Channel, Inventory, Network, Site, Station
from obspy.geodetics import gps2dist_azimuth, kilometers2degrees
from scipy.signal import butter, sosfilt

P_VELOCITY_KM_S = 6.0
S_VELOCITY_KM_S = 3.5
COUNTS_PER_UNIT = 1000.0  # ambient noise of unit std is written as ~1000 counts (int32, STEIM2)


@dataclass
class SyntheticNetwork:
    """Where the files are and what was planted: everything a probe run and its test need."""

    waveforms: str
    stations_path: Path
    event_time: pd.Timestamp
    event_latitude: float
    event_longitude: float
    stations: pd.DataFrame

    @property
    def planted(self) -> list[str]:
        return self.stations.loc[self.stations["planted"], "station"].tolist()

    def overrides(self) -> list[str]:
        """Dot-list overrides selecting this data set and event (for OmegaConf/Hydra)."""
        return [f"data.waveforms={self.waveforms}", f"data.stations={self.stations_path}",
                f"event.time={self.event_time.isoformat()}", f"event.latitude={self.event_latitude}",
                f"event.longitude={self.event_longitude}"]


def _band_noise(rng: np.random.Generator, n: int, fs: float, low_hz: float, high_hz: float) -> np.ndarray:
    """Unit-std Gaussian noise band-limited to [low_hz, high_hz] (4th-order Butterworth)."""
    sos = butter(4, [low_hz, min(high_hz, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    x = sosfilt(sos, rng.standard_normal(n + int(20 * fs)))[int(20 * fs):]  # drop the filter's start-up
    return x / x.std()


def _envelope(t_s: np.ndarray, onset_s: float, rise_s: float, decay_s: float) -> np.ndarray:
    """Zero before onset, then a smooth rise and exponential decay (a crude P or S wave-train envelope)."""
    tau = np.clip(t_s - onset_s, 0.0, None)
    return (1.0 - np.exp(-tau / rise_s)) * np.exp(-tau / decay_s) * (t_s >= onset_s)


def _station_layout(rng: np.random.Generator, n_stations: int, latitude: float, longitude: float,
                    radius_km: float) -> pd.DataFrame:
    """Stations at random azimuths and distances (5 km .. radius_km), sorted so S00 is the nearest."""
    distance_km = np.sort(rng.uniform(5.0, radius_km, n_stations))
    azimuth = rng.uniform(0.0, 2 * np.pi, n_stations)
    lat = latitude + kilometers2degrees(distance_km * np.cos(azimuth))
    lon = longitude + kilometers2degrees(distance_km * np.sin(azimuth)) / np.cos(np.radians(latitude))
    return pd.DataFrame({"station": [f"S{i:02d}" for i in range(n_stations)], "latitude": lat, "longitude": lon,
                         "distance_km": [gps2dist_azimuth(latitude, longitude, a, o)[0] / 1000
                                         for a, o in zip(lat, lon)]})


def write_synthetic_network(
    out_dir: str | Path,
    *,
    n_stations: int = 10,
    duration_minutes: float = 50.0,
    event_minute: float = 35.0,
    planted: Sequence[int] = (),
    planted_minutes: float = 15.0,
    planted_gain: float = 1.0,
    planted_band_hz: tuple[float, float] = (4.0, 12.0),
    quiet: Sequence[int] = (),
    quiet_factor: float = 0.3,
    sampling_rates_hz: Mapping[int, float] | None = None,
    gap_stations: Sequence[int] = (3,),
    gap_minute: float = 5.0,
    gap_seconds: float = 60.0,
    vertical_only_stations: Sequence[int] = (4,),
    event_latitude: float = 37.5,
    event_longitude: float = 137.2,
    radius_km: float = 150.0,
    event_snr: float = 2000.0,
    transients_per_hour: float = 6.0,
    station_format: str = "stationxml",
    network: str = "XS",
    start: str = "2024-01-01T06:00:00",
    seed: int = 0,
) -> SyntheticNetwork:
    """Write one MiniSEED file per station (`NET.STA.mseed`) and a station table into out_dir.

    Station i records at sampling_rates_hz.get(i, 100) Hz (default {1: 50, 2: 200}); stations in gap_stations
    lose gap_seconds of data at gap_minute; vertical_only_stations have only a Z channel. Every station records
    band-limited ambient noise (0.5-20 Hz plus a 0.1-0.3 Hz microseism) at its own gain, Poisson local
    transients, and the event (origin at event_minute; P and S trains arriving at distance/6 and
    distance/3.5 km/s, peak amplitude event_snr x noise x (10 km / distance)^1.5). At the stations in `planted`,
    band-limited noise of planted_gain x the ambient std in planted_band_hz is added over the planted_minutes
    before the origin (30-s tapers): a pre-event spectral change that no other station sees. At the stations in
    `quiet`, the ambient noise and transients fall to quiet_factor of their level over the same span: a change
    that the stations left out of `quiet` do not share, so they rank lowest (the seed station report's claim for
    the epicentral station).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not 0 < event_minute < duration_minutes or planted_minutes > event_minute:
        raise ValueError("need 0 < event_minute < duration_minutes and planted_minutes <= event_minute")
    rng = np.random.default_rng(seed)
    rates = {1: 50.0, 2: 200.0} if sampling_rates_hz is None else dict(sampling_rates_hz)
    t_start = obspy.UTCDateTime(start)
    layout = _station_layout(rng, n_stations, event_latitude, event_longitude, radius_km)
    rows, inventory_stations = [], []
    for i, site in layout.iterrows():
        fs = float(rates.get(i, 100.0))
        n = int(round(duration_minutes * 60 * fs))
        t_s = np.arange(n) / fs
        origin_s = event_minute * 60
        band = "HH" if fs >= 80 else "BH"
        components = "Z" if i in vertical_only_stations else "ENZ"
        gain = rng.lognormal(0.0, 0.5)
        n_transients = rng.poisson(transients_per_hour * duration_minutes / 60)
        transient_times = rng.uniform(0, duration_minutes * 60, n_transients)
        transient_amps = np.exp(rng.uniform(np.log(3), np.log(15), len(transient_times)))
        transient_env = sum((a * _envelope(t_s, t0, 0.2, 1.5) for t0, a in zip(transient_times, transient_amps)),
                            np.zeros(n))
        quake_amp = event_snr * (10.0 / max(site.distance_km, 10.0)) ** 1.5
        p_env = _envelope(t_s, origin_s + site.distance_km / P_VELOCITY_KM_S, 0.3, 3.0)
        s_env = _envelope(t_s, origin_s + site.distance_km / S_VELOCITY_KM_S, 0.5, 8.0 + site.distance_km / 20)
        planted_env = np.clip(np.minimum(t_s - (origin_s - planted_minutes * 60), origin_s - t_s) / 30.0, 0, 1)
        traces = []
        for comp in components:
            x = _band_noise(rng, n, fs, 0.5, 20.0) + 2.0 * _band_noise(rng, n, fs, 0.1, 0.3)
            x += transient_env * _band_noise(rng, n, fs, 5.0, 15.0)
            if i in quiet:
                x *= 1.0 - (1.0 - quiet_factor) * planted_env
            quake = _band_noise(rng, n, fs, 1.0, 15.0)
            x += quake_amp * quake * ((1.0 if comp == "Z" else 0.5) * p_env + (0.5 if comp == "Z" else 1.0) * s_env)
            if i in planted:
                x += planted_gain * planted_env * _band_noise(rng, n, fs, *planted_band_hz)
            counts = np.round(gain * COUNTS_PER_UNIT * x).astype(np.int32)
            header = {"network": network, "station": site.station, "channel": band + comp, "sampling_rate": fs,
                      "starttime": t_start}
            if i in gap_stations:
                g0, g1 = int(gap_minute * 60 * fs), int((gap_minute * 60 + gap_seconds) * fs)
                traces.append(obspy.Trace(counts[:g0], header=dict(header)))
                traces.append(obspy.Trace(counts[g1:], header={**header, "starttime": t_start + g1 / fs}))
            else:
                traces.append(obspy.Trace(counts, header=header))
        obspy.Stream(traces).write(str(out_dir / f"{network}.{site.station}.mseed"), format="MSEED",
                                   encoding="STEIM2")
        inventory_stations.append(Station(
            site.station, site.latitude, site.longitude, 0.0, site=Site(name=f"synthetic {site.station}"),
            channels=[Channel(band + c, "", site.latitude, site.longitude, 0.0, 0.0, sample_rate=fs)
                      for c in components]))
        rows.append({"network": network, **site.to_dict(), "sampling_rate_hz": fs, "components": components,
                     "gap_seconds": gap_seconds if i in gap_stations else 0.0, "planted": i in planted})
    stations = pd.DataFrame(rows)
    if station_format == "stationxml":
        stations_path = out_dir / "stations.xml"
        Inventory([Network(network, stations=inventory_stations)], source="seisbind synthetic").write(
            str(stations_path), format="STATIONXML")
    elif station_format == "csv":
        stations_path = out_dir / "stations.csv"
        stations[["network", "station", "latitude", "longitude"]].assign(elevation=0.0).to_csv(stations_path,
                                                                                                 index=False)
    else:
        raise ValueError(f"station_format must be 'stationxml' or 'csv', got {station_format!r}")
    event_time = pd.Timestamp(t_start.datetime, tz="UTC") + pd.Timedelta(minutes=event_minute)
    return SyntheticNetwork(str(out_dir / "*.mseed"), stations_path, event_time, event_latitude, event_longitude,
                            stations)
