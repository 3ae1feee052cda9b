"""The streaming DataModule on the synthetic data root: inputs per modality, workers, splits, bad traces."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from seisbind.data.datamodule import SeisBindDataModule, split_rows
from seisbind.errors import BadTraceError, SeisbindInputError
from seisbind.modalities.animal import AnimalInput
from seisbind.modalities.catalog import CatalogInput
from seisbind.modalities.metadata import MetadataInput
from seisbind.modalities.waveform import WaveformInput

COLUMNS = {"trace_P_arrival_sample": 12000, "trace_S_arrival_sample": 12000, "path_ep_distance_km": 300}
CATALOG = {"reader": "seisbind.data.catalog.read_catalogs", "glob": ["catalog.txt", "catalog.xml"]}
ANIMALS = {"reader": "seisbind.data.movebank.read_movebank", "glob": "animals/*.csv"}


def make_datamodule(root: Path, **kwargs) -> SeisBindDataModule:
    inputs = {"spectrum": WaveformInput(), "metadata": MetadataInput(COLUMNS), "catalog": CatalogInput(CATALOG, 24),
              "animal": AnimalInput(ANIMALS, 20, 15)}
    options = {"batch_size": 8, "filters": {}, "split": {"strategy": "time", "val_fraction": 0.25, "seed": 0}}
    return SeisBindDataModule(str(root), inputs, **(options | kwargs))


def test_batches_hold_every_modality_with_masks(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root, num_workers=2, persistent_workers=True)
    dm.setup("fit")
    assert dm.input_shapes()["spectrum"] == [3, 12000]
    assert dm.input_shapes()["animal"] == [13, 80]
    batch = next(iter(dm.train_dataloader()))
    assert batch["spectrum"]["x"].shape == (8, 3, 12000) and batch["spectrum"]["x"].dtype == torch.float32
    assert batch["metadata"]["x"].shape == batch["metadata"]["mask"].shape == (8, 3)
    assert batch["animal"]["x"].shape == (8, 13, 80) and batch["animal"]["mask"].shape == (8, 13)
    # Absent is a mask, never data: an absent animal sample has no observed animal.
    absent = ~batch["animal"]["present"]
    assert not batch["animal"]["mask"][absent].any()
    rows = batch["info"]["row"].numpy()
    assert set(rows) <= set(dm.train_rows)
    names = dm.index["trace_name"].to_numpy()[rows]
    with h5py.File(synthetic_root / "Instance_events_counts.hdf5") as f:
        expected = np.stack([f["data"][n][()] for n in names]).astype(np.float32)
    np.testing.assert_array_equal(batch["spectrum"]["x"].numpy(), expected)


def test_animal_input_is_present_only_where_animals_were_recorded(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root)
    dm.setup("fit")
    animal = dm.inputs["animal"]
    start = dm.index["trace_start_time"]
    present = animal.batch(np.arange(len(dm.index)))["present"].numpy()
    covered = (start >= pd.Timestamp("2016-10-02", tz="UTC")) & (start < pd.Timestamp("2016-12-01", tz="UTC"))
    uncovered = start < pd.Timestamp("2016-09-30", tz="UTC")
    assert present[covered.to_numpy()].all() and not present[uncovered.to_numpy()].any()


def test_time_split_keeps_events_and_context_windows_apart(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root)
    dm.setup("fit")
    train, val = dm.index.iloc[dm.train_rows], dm.index.iloc[dm.val_rows]
    assert not set(train["source_id"]) & set(val["source_id"])
    gap = pd.Timedelta(hours=24)  # the longest context window (catalog)
    assert train["trace_start_time"].max() + gap <= val["source_origin_time"].min() + pd.Timedelta(minutes=5)


def test_event_split_is_grouped_and_seeded(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root, split={"strategy": "event", "val_fraction": 0.3, "seed": 4})
    dm.setup("fit")
    a = (dm.train_rows.copy(), dm.val_rows.copy())
    assert not set(dm.index["source_id"].iloc[a[0]]) & set(dm.index["source_id"].iloc[a[1]])
    b = split_rows(dm.index, "event", 0.3, 0.0, 4)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(SeisbindInputError, match="strategy='random'"):
        split_rows(dm.index, "random", 0.3, 0.0, 4)


def test_noise_traces_join_with_source_inputs_absent(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root, include_noise=True)
    dm.setup("fit")
    noise = np.flatnonzero(dm.index["waveform_file"].to_numpy() == 1)
    assert len(noise) > 0
    sample = dm.dataset()[int(noise[0])]
    assert not bool(sample["metadata"]["present"]) and bool(sample["spectrum"]["present"])


@pytest.fixture()
def damaged_root(tmp_path: Path, synthetic_root: Path) -> tuple[Path, str]:
    """A copy of the synthetic root with one trace full of NaN."""
    root = tmp_path / "damaged"
    shutil.copytree(synthetic_root, root, ignore=shutil.ignore_patterns("*noise*", "animals"))
    meta = pd.read_csv(root / "metadata_Instance_events_v3.csv", usecols=["trace_name"])
    bad = meta["trace_name"].iloc[3]
    with h5py.File(root / "Instance_events_counts.hdf5", "a") as f:
        data = f["data"][bad][()].astype(np.float32)
        data[0, 100] = np.nan
        del f["data"][bad]
        f["data"][bad] = data
    return root, bad


def test_bad_trace_is_skipped_and_counted_or_raised(damaged_root: tuple[Path, str], caplog) -> None:
    root, bad = damaged_root
    inputs = {"spectrum": WaveformInput(), "metadata": MetadataInput(COLUMNS)}
    dm = SeisBindDataModule(str(root), inputs, filters={}, on_bad_trace="skip")
    dm.setup("fit")
    row = int(np.flatnonzero(dm.index["trace_name"].to_numpy() == bad)[0])
    sample = dm.dataset()[row]
    assert not bool(sample["spectrum"]["present"]) and bool(sample["spectrum"]["bad"])
    assert bad in caplog.text and "NaN" in caplog.text.replace("nan", "NaN")

    strict = SeisBindDataModule(str(root), {"spectrum": WaveformInput(), "metadata": MetadataInput(COLUMNS)},
                                filters={}, on_bad_trace="raise")
    strict.setup("fit")
    with pytest.raises(BadTraceError, match=bad.replace(".", r"\.")):
        strict.dataset()[row]


def test_filters_that_leave_nothing_say_so(synthetic_root: Path) -> None:
    dm = make_datamodule(synthetic_root, filters={"min_magnitude": 9.0})
    with pytest.raises(SeisbindInputError, match="traces left after the filters"):
        dm.setup("fit")
