"""Short-term aftershock incompleteness: the events a network misses in the hours after a large shock, whose
coda hides them (Helmstetter, Kagan & Jackson 2006, BSSA 96:90; Hainzl 2021, BSSA, doi 10.1785/0120210146).

After an event of magnitude M at time t_i, the catalog is complete only above

    Mc(t) = M - offset - slope log10(t - t_i),   t - t_i in days   (offset 4.5, slope 0.75: Helmstetter et al.)

so its blind interval above a floor Mc0 lasts tau = 10^((M - offset - Mc0) / slope) days (5.2 h after an M6.5
above Mc 2.5). The ETAS fit leaves the blind intervals out of its likelihood (their events still trigger), and the
null's simulated catalogs lose the events below Mc(t) as a real catalog does, so fit, simulations and the real
catalog see the same completeness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AftershockIncompleteness:
    """Mc(t) after each event (module docstring). `min_days`: blind intervals shorter than this (days; 1e-3 d =
    86 s, about the coda of an M4) are ignored, so the many small events above the floor add no work."""

    offset: float = 4.5
    slope: float = 0.75
    min_days: float = 1e-3

    def blind_days(self, magnitudes: np.ndarray, floor: float) -> np.ndarray:
        """Length of each event's blind interval above `floor` (days)."""
        return 10.0 ** ((np.asarray(magnitudes, dtype=np.float64) - self.offset - floor) / self.slope)

    def blind_intervals(self, times: np.ndarray, magnitudes: np.ndarray, floor: float) -> np.ndarray:
        """The union of the blind intervals [t_i, t_i + tau_i] (days) longer than `min_days`, as sorted, disjoint
        (start, end) rows."""
        t = np.asarray(times, dtype=np.float64)
        tau = self.blind_days(magnitudes, floor)
        long = tau >= self.min_days
        order = np.argsort(t[long], kind="stable")
        starts, ends = t[long][order], (t + tau)[long][order]
        if not starts.size:
            return np.empty((0, 2))
        reach = np.maximum.accumulate(ends)
        new = np.r_[True, starts[1:] > reach[:-1]]
        last = np.r_[np.flatnonzero(new)[1:] - 1, starts.size - 1]
        return np.column_stack([starts[new], reach[last]])

    def detected(self, times: np.ndarray, magnitudes: np.ndarray, floor: float,
                 history_times: np.ndarray | None = None, history_magnitudes: np.ndarray | None = None) -> np.ndarray:
        """True for the events (times in days) a network with this completeness records: M >= Mc(t) of every
        earlier event (history events, e.g. before a simulated period, count as earlier events)."""
        t = np.asarray(times, dtype=np.float64)
        m = np.asarray(magnitudes, dtype=np.float64)
        ht = np.r_[np.asarray([] if history_times is None else history_times, dtype=np.float64), t]
        hm = np.r_[np.asarray([] if history_magnitudes is None else history_magnitudes, dtype=np.float64), m]
        tau = self.blind_days(hm, floor)
        keep = np.ones(t.size, dtype=bool)
        if not t.size:
            return keep
        order = np.argsort(t, kind="stable")
        sorted_t = t[order]
        # only the blind intervals that reach one of the events (a short window after a long history: most do not)
        for i in np.flatnonzero((tau >= self.min_days) & (ht + tau > sorted_t[0]) & (ht < sorted_t[-1])):
            lo, hi = np.searchsorted(sorted_t, [ht[i], ht[i] + tau[i]], side="right")
            inside = order[lo:hi]
            inside = inside[t[inside] > ht[i]]
            mc = hm[i] - self.offset - self.slope * np.log10(t[inside] - ht[i])
            keep[inside[m[inside] < mc]] = False
        return keep
