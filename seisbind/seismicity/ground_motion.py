"""Peak ground velocity at a site from a catalog event: ITA10, the Italian ground-motion model of Bindi, Pacor,
Luzi, Puglia, Massa, Ameri & Paolucci (2011), "Ground motion prediction equations derived from the Italian strong
motion database", Bull. Earthquake Eng. 9:1899-1920 (doi 10.1007/s10518-011-9313-z).

Why: a tagged animal or a GNSS antenna responds to the shaking where it is, not to the region's event count, and
animals that feel foreshocks are the first explanation of an animal "precursor" to rule out (REFERENCE.md section 11;
Zöller et al. 2021 on Wikelski et al. 2020). ITA10 is fitted to ITACA, the Italian records of the region of the
Wikelski farm and of the Norcia sequence.

The model (the paper's eq. 1), for the geometric mean of the two horizontal components:

    log10 Y = e1 + F_D(R, M) + F_M(M) + F_S + F_sof
    F_D = [c1 + c2 (M - Mref)] log10(sqrt(Rjb^2 + h^2) / Rref) - c3 (sqrt(Rjb^2 + h^2) - Rref),  Mref 5, Rref 1 km
    F_M = b1 (M - Mh) + b2 (M - Mh)^2 for M <= Mh, else b3 (M - Mh),  Mh 6.75, b3 0
    F_S = s_j of the EC8 site class j (class A, rock with Vs30 > 800 m/s, is the reference: s_A = 0)
    F_sof = f_j of the style of faulting (0 when unspecified)

with the PGV coefficients below, Y in cm/s. M is moment magnitude and Rjb the Joyner-Boore distance (km). The fit
covers 4 <= Mw <= 6.9 and Rjb <= 200 km: for the smaller events that make up most of a catalog the values are the
model's extrapolation (its magnitude-dependent spreading and quadratic magnitude term), the only law at hand there.
tests/test_ground_motion.py checks the function against OpenQuake hazardlib's verification table for this model
(openquake/hazardlib/tests/gsim/data/BINDI2011/BINDI2011_MEAN.csv).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.seismicity.window_features import segment_reduce
from seisbind.times import to_utc_ns

# PGV row of the paper's coefficient table (log10 of cm/s); the same values as OpenQuake hazardlib's
# gsim/bindi_2011.py, whose verification table the tests compare with.
E1 = 2.305
C1, C2, C3 = -1.517, 0.326, 0.0
H_KM = 7.879
B1, B2, B3 = 0.236, -0.00686, 0.0
M_REF, R_REF_KM, M_H = 5.0, 1.0, 6.75

SITE_TERMS = {"A": 0.0, "B": 0.205, "C": 0.269, "D": 0.321, "E": 0.428}
"""s_j by EC8 site class (CEN 2003, by Vs30 over the top 30 m): A > 800 m/s (rock, the model's reference),
B 360-800, C 180-360, D < 180 m/s, E shallow C or D soil over rock."""

FAULTING_TERMS = {"unspecified": 0.0, "normal": -0.0308, "reverse": 0.0754, "strike_slip": -0.0446}
"""f_j by style of faulting; `unspecified` (f = 0) when the catalog gives no mechanism."""

SIGMA_LOG10 = 0.332
"""Total standard deviation of log10 PGV about the model (between-event 0.194, within-event 0.270): a single
prediction is good to a factor of about 2.1."""


def check_site(site_class: str, faulting: str) -> None:
    """SeisbindInputError naming the allowed values when the site class or the style of faulting is not ITA10's."""
    if site_class not in SITE_TERMS:
        raise SeisbindInputError(f"site_class={site_class!r}: ITA10 has the EC8 classes {sorted(SITE_TERMS)}")
    if faulting not in FAULTING_TERMS:
        raise SeisbindInputError(f"faulting={faulting!r}: ITA10 has {sorted(FAULTING_TERMS)}")


def log10_pgv_cmps(magnitude, rjb_km, site_class: str = "A", faulting: str = "unspecified") -> np.ndarray:
    """log10 of the median PGV (cm/s, geometric mean of the horizontal components) of an event of moment magnitude
    `magnitude` at Joyner-Boore distance `rjb_km` (km) on a site of EC8 class `site_class`; numpy broadcasting over
    magnitude and distance, NaN where either is NaN."""
    check_site(site_class, faulting)
    m = np.asarray(magnitude, dtype=np.float64)
    r = np.sqrt(np.square(np.asarray(rjb_km, dtype=np.float64)) + H_KM ** 2)
    distance = (C1 + C2 * (m - M_REF)) * np.log10(r / R_REF_KM) - C3 * (r - R_REF_KM)
    dm = m - M_H
    size = np.where(dm <= 0, B1 * dm + B2 * dm ** 2, B3 * dm)
    return E1 + distance + size + SITE_TERMS[site_class] + FAULTING_TERMS[faulting]


def pgv_cmps(magnitude, rjb_km, site_class: str = "A", faulting: str = "unspecified") -> np.ndarray:
    """The median PGV (cm/s) of `log10_pgv_cmps`."""
    return 10.0 ** log10_pgv_cmps(magnitude, rjb_km, site_class, faulting)


def window_pgv_cmps(catalog: pd.DataFrame, starts, ends, latitude_deg, longitude_deg, *, site_class: str = "A",
                    faulting: str = "unspecified") -> tuple[np.ndarray, np.ndarray]:
    """The ground motion the catalog's events in each window [start, end) cause at the sensors (latitude_deg,
    longitude_deg: one value per sensor), as (peak, total), each of shape (windows,), in cm/s:

    - peak: the largest PGV of any event at any sensor;
    - total: the largest over sensors of the sum of the PGVs of the events at that sensor (how much shaking the
      most shaken sensor had; a sum, because many small shocks can add up to what one larger shock gives).

    Every event counts whatever its magnitude; one without a location or magnitude adds nothing. Both are 0 in a
    window without events. The catalog magnitude is taken as Mw and the epicentral distance as the Joyner-Boore
    distance (seisbind.geodesy.epicentral_km): exact for a point source, an overestimate of Rjb (so an
    underestimate of PGV) near the rupture of an M >= 6 whose fault extends over kilometres.
    """
    check_site(site_class, faulting)
    times = to_utc_ns(catalog["time"])
    order = np.argsort(times, kind="stable")
    lat = catalog["latitude_deg"].to_numpy(np.float64)[order]
    lon = catalog["longitude_deg"].to_numpy(np.float64)[order]
    distance_km = epicentral_km(lat[:, None], lon[:, None], np.asarray(latitude_deg, np.float64)[None, :],
                                np.asarray(longitude_deg, np.float64)[None, :])
    pgv = np.nan_to_num(pgv_cmps(catalog["magnitude"].to_numpy(np.float64)[order][:, None], distance_km,
                                 site_class, faulting), nan=0.0)
    lo = np.searchsorted(times[order], to_utc_ns(starts), side="left")
    hi = np.searchsorted(times[order], to_utc_ns(ends), side="left")
    peak = segment_reduce(np.maximum, pgv.max(axis=1, initial=0.0), lo, hi, 0.0)
    total = segment_reduce(np.add, pgv, lo, hi, 0.0).max(axis=1, initial=0.0)
    return peak, total
