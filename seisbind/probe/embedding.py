"""Embedding features of the pre-event study: what a trained checkpoint's encoders see in each window.

Which traces: a window's embedding is only as independent of seismicity as the traces it pools. Event traces
exist because there were events, so "has an embedding" already separates active windows from quiet ones (and a
model that only counts them looks like a detector). INSTANCE's noise set (`metadata_Instance_noise*.csv` +
`Instance_noise*.hdf5`) holds traces recorded at times chosen without regard to events; `traces: noise` pools
those, `events` the event traces (never before their event's origin, so a pre-event window does not embed its
target's own records), `both` all; `auto` = noise when the root has the noise pair, else events, said so.

Per modality of the checkpoint (the anchor first): the embeddings of the present traces are centred per station
(each station's mean embedding over all its embedded traces subtracted, so that station and site differences,
and which stations happen to record, cancel), reduced by a PCA fitted on all of them, and averaged per window.
Both steps use no label, so under the null the pre-event and background windows stay exchangeable; every
supervised step happens later, inside the cross-validation folds. Columns `emb_<modality>_pc<i>`; the study's
feature sets `embedding:<modality>` select one encoder each, so a result says which one carries it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.data.trace_index import Layout, TraceIndex
from seisbind.errors import SeisbindInputError
from seisbind.probe.features import EMBEDDING_PREFIX, trace_times_ns, window_ranges, window_sum
from seisbind.progress import progress

log = logging.getLogger(__name__)

TRACE_CHOICES = ("auto", "noise", "events", "both")


def rows_in_windows(times_ns: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Positions (in sorted order) of the records that lie in at least one window, from a difference array."""
    marks = np.zeros(times_ns.size + 1, dtype=np.int64)
    np.add.at(marks, lo, 1)
    np.add.at(marks, hi, -1)
    return np.flatnonzero(np.cumsum(marks)[:-1] > 0)


def _trace_index(module, data: dict, ckpt: str | Path, include_noise: bool) -> tuple[TraceIndex, dict]:
    """The traces of `data["root"]` with the checkpoint's own inputs set up on them (their sources included: globs
    relative to the data root), so the probe feeds each encoder what it was trained on: (index, inputs)."""
    from hydra.utils import instantiate

    from seisbind.data.datamodule import BASE_COLUMNS

    modality = module.hparams.get("modality") or {}
    try:
        inputs = {name: instantiate(cfg["input"]) for name, cfg in modality.items()}
        columns = sorted(set(BASE_COLUMNS).union(*(inp.columns for inp in inputs.values())))
        index = TraceIndex.open(data["root"], columns, filters=data.get("filters"), noise=include_noise)
        index.prepare(inputs, on_bad_trace="skip")
    except (SeisbindInputError, FileNotFoundError, KeyError) as err:
        raise SeisbindInputError(f"{ckpt}: its modalities {list(modality)} need data that {data['root']} does not "
                                 f"provide: {err}") from err
    expected = {k: list(v) for k, v in (module.hparams.get("input_shapes") or {}).items()}
    wrong = {k: (expected.get(k), list(inp.shape)) for k, inp in inputs.items() if expected.get(k) != list(inp.shape)}
    if wrong:
        raise SeisbindInputError(
            f"{ckpt}: the inputs built on {data['root']} do not fit the checkpoint (modality: (trained, found) "
            f"shapes) {wrong}; was it trained on another data layout (other metadata columns, another number of "
            "animals)?")
    return index, inputs


def embedding_features(ckpt: str | Path, data: dict, windows: pd.DataFrame, *, traces: str = "auto",
                       n_components: int = 8, center_per_station: bool = True, batch_size: int = 64,
                       num_workers: int = 0, device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """(features `emb_<modality>_pc<i>` per window, coverage): see the module docstring.

    Coverage: which traces were pooled (and why, for `auto`), and per window type how many windows have an
    anchor embedding and the mean number of traces behind it."""
    import torch
    from sklearn.decomposition import PCA
    from torch.utils.data import DataLoader

    from seisbind.data.dataset import TraceDataset, collate
    from seisbind.module import SeisBindModule

    if traces not in TRACE_CHOICES:
        raise SeisbindInputError(f"probe.embedding.traces={traces!r}: choose one of {TRACE_CHOICES}")
    note = ""
    if traces == "auto":
        traces = "noise" if Layout.find(data["root"]).noise else "events"
        note = ("The root has INSTANCE's noise pair: windows pool noise traces, timed independently of events."
                if traces == "noise" else
                "The root has no noise pair (metadata_Instance_noise*.csv + Instance_noise*.hdf5): windows pool "
                "event traces, so whether a window has an embedding depends on its seismicity.")
        if traces == "events":
            log.warning("embedding features: %s", note)
    elif traces != "events" and not Layout.find(data["root"]).noise:
        raise SeisbindInputError(f"probe.embedding.traces={traces}: {data['root']} has no INSTANCE noise pair "
                                 "(metadata_Instance_noise*.csv + Instance_noise*.hdf5); use traces=events")
    module = SeisBindModule.from_checkpoint(ckpt).to(device)
    names = list(module.hparams.get("modality") or {})
    anchor = module.hparams.get("anchor") or names[0]
    names = [anchor] + [n for n in names if n != anchor]
    traces_index, inputs = _trace_index(module, data, ckpt, traces != "events")
    index = traces_index.table
    is_noise = index["waveform_file"].to_numpy() == 1
    wanted = {"noise": is_noise, "events": ~is_noise, "both": np.ones(len(index), dtype=bool)}[traces]
    candidates = np.flatnonzero(wanted)
    seen = trace_times_ns(index.iloc[candidates])
    order = candidates[np.argsort(seen, kind="stable")]
    times = np.sort(seen, kind="stable")
    lo, hi = window_ranges(times, windows)
    used = rows_in_windows(times, lo, hi)
    log.info("embedding %d %s traces of %d windows with %s", used.size, traces, len(windows), ckpt)
    loader = DataLoader(TraceDataset(order[used], inputs), batch_size=batch_size, shuffle=False, collate_fn=collate,
                        num_workers=num_workers)
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    present: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with torch.no_grad(), progress("embedding traces", total=len(loader)) as advance:
        for batch in loader:
            batch = {k: {kk: vv.to(device) if isinstance(vv, torch.Tensor) else vv for kk, vv in v.items()}
                     for k, v in batch.items()}
            for name, emb in module.embed(batch).items():
                chunks[name].append(emb.float().cpu().numpy())
                present[name].append(batch[name]["present"].bool().cpu().numpy())
            advance()

    station = pd.factorize(index["station_network_code"].astype(str).to_numpy()[order[used]] + "."
                           + index["station_code"].astype(str).to_numpy()[order[used]])[0]
    columns: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for name in names:
        if not chunks[name]:
            continue
        emb = np.concatenate(chunks[name]).astype(np.float64)
        mask = np.concatenate(present[name])
        if mask.sum() < 3:
            log.warning("modality %s: %d present traces in the windows, no embedding features", name, mask.sum())
            continue
        if center_per_station:
            emb = emb - _station_means(emb, mask, station)
        k = int(min(n_components, emb.shape[1], mask.sum() - 1))
        pca = PCA(n_components=k, random_state=0).fit(emb[mask])
        reduced = np.zeros((times.size, k))
        weight = np.zeros(times.size)
        reduced[used] = np.where(mask[:, None], pca.transform(emb), 0.0)
        weight[used] = mask
        total = window_sum(reduced, lo, hi)
        counts[name] = window_sum(weight, lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(counts[name][:, None] > 0, total / counts[name][:, None], np.nan)
        for i in range(k):
            columns[f"{EMBEDDING_PREFIX}{name}_pc{i}"] = pooled[:, i]
    return pd.DataFrame(columns, index=windows.index), _coverage(windows, counts.get(anchor), traces, note, anchor)


def _station_means(emb: np.ndarray, mask: np.ndarray, station: np.ndarray) -> np.ndarray:
    """Each trace's station mean embedding over the station's present traces (0 for absent traces)."""
    n = int(station.max()) + 1 if station.size else 0
    total = np.zeros((n, emb.shape[1]))
    np.add.at(total, station[mask], emb[mask])
    count = np.bincount(station[mask], minlength=n)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(count > 0, total / count, 0.0)
    return np.where(mask[:, None], means[station], 0.0)


def _coverage(windows: pd.DataFrame, count: np.ndarray | None, traces: str, note: str, anchor: str) -> dict:
    per_type = {}
    count = np.zeros(len(windows)) if count is None else count
    for kind, rows in windows.groupby("window_type").indices.items():
        has = count[rows] > 0
        per_type[str(kind)] = {"windows": int(rows.size), "with_embedding": int(has.sum()),
                               "mean_traces": float(count[rows][has].mean()) if has.any() else 0.0}
    return {"traces": traces, "note": note, "anchor": anchor, "per_window_type": per_type}
