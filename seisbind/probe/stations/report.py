"""What the station anomaly analysis shows: the claims table it prints, the station map and the score time series."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from seisbind.files import save_figure  # noqa: E402
from seisbind.probe.stations.features import WindowGrid  # noqa: E402

if TYPE_CHECKING:
    from seisbind.probe.stations.analysis import Event


def console_summary(summary: dict) -> str:
    """The table `run` prints: each network-level claim, its value and its null tests' p-values."""
    placebo = summary["placebo"]
    null = f"placebo times (n={placebo['n']}, {placebo['n_non_overlapping']} disjoint)"

    def p(value) -> str:
        return "-" if value is None else f"{value:.3g}"

    low, high = summary["pre_vs_background_auc_ci"]
    trend = summary["onset_jump_vs_distance"]
    quiet = summary["quiescent_fraction"]
    rows = [
        ("claim", "value", "null", "p"),
        (f"epicentral rank ({summary['epicentral_station']}, {summary['epicentral_distance_km']:.0f} km)",
         f"{summary['epicentral_rank']} of {summary['n_stations']} (1 = lowest)", "station permutation",
         p(summary["epicentral_rank_p_value"])),
        ("", "", null, p(placebo["epicentral_rank_p_value"])),
        ("pre vs background AUC", f"{summary['pre_vs_background_auc']:.3f} [{low:.3f}, {high:.3f}] (95 % CI)",
         null, p(placebo["p_value"])),
        ("quiescent fraction", "-" if quiet is None else f"{quiet:.2f}", "binomial",
         p(summary["quiescent_binomial_p_value"])),
        ("onset jump vs distance", "-" if trend["rho"] is None else f"Spearman rho {trend['rho']:+.2f}", "Spearman",
         p(trend["p_value"])),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [(f"station anomaly analysis: {summary['n_stations']} stations ({len(summary['skipped'])} skipped), "
              f"{summary['window_seconds']:g}-s windows every {summary['step_seconds']:g} s")]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3] for row in rows]
    if "reason" in placebo:
        lines.append(f"placebo null: {placebo['reason']}")
    return "\n".join(lines)


def plot_map(stations: pd.DataFrame, event: Event, path: Path) -> None:
    """map.png: the stations coloured by score and labelled with their rank, and the epicentre."""
    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(stations["longitude"], stations["latitude"], c=stations["score"], cmap="viridis", s=70,
                        edgecolors="k", zorder=2)
    fig.colorbar(points, ax=ax, label="score (mean pre-event window score)")
    ax.scatter([event.longitude], [event.latitude], marker="*", s=400, c="red", edgecolors="k", zorder=3,
               label="epicentre")
    for row in stations.itertuples():
        ax.annotate(f"{row.station} ({row.rank})", (row.longitude, row.latitude), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_aspect(1 / max(math.cos(math.radians(event.latitude)), 1e-3), adjustable="datalim")
    ax.set(xlabel="longitude (deg)", ylabel="latitude (deg)", title="station anomaly score (rank, 1 = lowest)")
    ax.legend(loc="best")
    save_figure(fig, path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_timeseries(windows: pd.DataFrame, stations: pd.DataFrame, grid: WindowGrid, path: Path) -> None:
    """timeseries.png: every station's window scores against time from the event, coloured by distance."""
    fig, ax = plt.subplots(figsize=(10, 5))
    distance = stations.set_index(["network", "station"])["distance_km"]
    norm = plt.Normalize(distance.min(), distance.max() + 1e-9)
    for (net, sta), g in windows.groupby(["network", "station"], sort=False):
        centre_min = ((g["window_start"] - grid.event_time).dt.total_seconds() + grid.window_seconds / 2) / 60
        ax.plot(centre_min, g["score"], lw=1, color=plt.cm.plasma(norm(distance[(net, sta)])), label=sta)
    ax.axvspan(((windows["window_start"].min() - grid.event_time).total_seconds()) / 60,
               (grid.background_end - grid.event_time).total_seconds() / 60, color="0.9", label="background")
    ax.axvline(0, color="k", ls="--", label="event.time")
    ax.set_yscale("log")
    ax.set(xlabel="window centre, minutes from event.time", ylabel="window score (1 = typical background)")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="plasma"), ax=ax, label="epicentral distance (km)")
    if windows["station"].nunique() <= 15:
        ax.legend(fontsize=7, ncol=2, loc="upper left")
    save_figure(fig, path, dpi=120, bbox_inches="tight")
    plt.close(fig)
