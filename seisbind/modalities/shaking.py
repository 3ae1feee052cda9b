"""Shaking at a sensor-located modality's sensors: the study's `shaking_<modality>` family, the peak ground velocity
the catalog's earthquakes caused where the modality's tags or stations are (ITA10, Bindi et al. 2011,
seisbind/seismicity/ground_motion.py).

Why: animals (and GNSS antennas) that respond to the shaking of small nearby earthquakes look "predictive" against
region-wide catalog counts, since foreshocks and the aftershocks of earlier events cluster before targets; felt
shaking is the first explanation of an animal precursor to rule out (Zöller et al. 2021 on Wikelski et al. 2020;
REFERENCE.md section 11). With these columns the study can ask whether the modality adds anything beyond
`catalog+shaking:<modality>` (configs/probe/study.yaml).

A sensor modality configures one such family next to its own (configs/modality/animal.yaml, gnss.yaml), naming a
reader of its sensors' positions (seisbind.data.movebank.read_movebank_positions,
seisbind.data.gnss.read_gnss_positions). The family is `simulated`: its features are a function of the catalog once
the positions are read, so the clustering nulls (seisbind/probe/study/nulls/) recompute them on simulated
catalogs with the positions `compute` kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from seisbind.data.tables import TableSource
from seisbind.errors import SeisbindInputError
from seisbind.protocols import FamilyUnavailable, StudyData, load_or_unavailable
from seisbind.seismicity.ground_motion import check_site, window_pgv_cmps

FLOOR_PGV_CMPS = 1e-6
"""The PGV (cm/s) the log10 features stop at, also their value in a window without any event: 0.01 micrometre/s,
below what a magnitude-1 event gives at 100 km under ITA10 and five orders under weakly felt shaking (instrumental
intensity II-III from 0.1 cm/s, Wald et al. 1999, Earthquake Spectra 15:557)."""


class ShakingFamily:
    """Per window, from every catalog event in the window and in the `lookback_hours` before it (a sensor reacts
    to shaking it felt shortly before too), the ground motion at the modality's sensors (seisbind.seismicity.
    ground_motion.window_pgv_cmps): `shaking_<modality>_log10_peak_pgv_cmps`, the largest PGV at any sensor, and
    `shaking_<modality>_log10_sum_pgv_cmps`, the summed PGV at the most shaken sensor; log10 of cm/s, at least
    log10(FLOOR_PGV_CMPS) = -6, which is also their value when no event shook.

    Several sensors give the maximum over sensors, not a median position: the question is whether any sensor felt
    enough to respond, and a median position can lie where no sensor is (GNSS stations tens of km apart). Tags at
    one farm share a position, so there the two agree.

    Every event counts, below the completeness floor too (`below_floor`, default true): shaking is physical, and
    the small events near a sensor are those an animal feels and region-wide counts above the floor miss. The
    clustering nulls simulate events at or above the floor only, so with `below_floor` the family is not
    `simulated` (its sets get no clustering p-value, rather than one comparing observed features with simulated
    ones that lack the smallest events); `below_floor: false` uses the floored catalog, like for like with the
    nulls, which then recompute it. The sensors' site class (EC8 A-E) and the events' style of faulting
    shift every log10 PGV by one constant, which no rank-based result depends on: A (rock, the model's
    reference, s = 0) and unspecified (f = 0) by default, as nothing is known of the sites.
    """

    def __init__(self, modality: str, positions: TableSource | Mapping[str, Any], lookback_hours: float = 24.0,
                 site_class: str = "A", faulting: str = "unspecified", below_floor: bool = True) -> None:
        if not str(modality).isidentifier():
            raise SeisbindInputError(f"modality={modality!r}: a modality name (letters, digits, underscores)")
        if not float(lookback_hours) >= 0:
            raise SeisbindInputError(f"lookback_hours={lookback_hours!r}: must be >= 0")
        check_site(str(site_class), str(faulting))
        self.modality = str(modality)
        self.name = f"shaking_{self.modality}"
        self.columns = (f"shaking_{self.modality}_log10_peak_pgv_cmps", f"shaking_{self.modality}_log10_sum_pgv_cmps")
        self.positions = TableSource.of(positions, f"{self.name} positions")
        self.lookback_hours, self.site_class, self.faulting = float(lookback_hours), str(site_class), str(faulting)
        self.below_floor = bool(below_floor)
        self.simulated = not self.below_floor
        self.sensors: pd.DataFrame | None = None
        """The sensors' positions (seisbind.geodesy.median_positions) `compute` read from the root."""

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        sensors = load_or_unavailable(data, self.positions, f"{self.modality} sensor positions")
        if sensors.empty:
            raise FamilyUnavailable(f"no {self.modality} sensor position in {self.positions.describe(data.root)} "
                                    f"(no coordinates in its files)")
        self.sensors = sensors
        below = self.below_floor and data.all_events is not None
        return self.from_catalog(data.all_events if below else data.catalog, windows)

    def from_catalog(self, catalog: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
        if self.sensors is None:
            raise SeisbindInputError(f"feature family {self.name}: from_catalog before compute read the sensor "
                                     f"positions")
        starts = pd.DatetimeIndex(windows["start_time"]) - pd.Timedelta(hours=self.lookback_hours)
        peak, total = window_pgv_cmps(catalog, starts, windows["end_time"], self.sensors["latitude_deg"],
                                      self.sensors["longitude_deg"], site_class=self.site_class,
                                      faulting=self.faulting)
        logged = np.log10(np.maximum(np.stack([peak, total], axis=1), FLOOR_PGV_CMPS))
        return pd.DataFrame(logged, index=windows.index, columns=list(self.columns))
