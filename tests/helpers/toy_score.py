"""A score added as one module plus a `probe.scorers` entry: the first feature, as it is."""

from __future__ import annotations

import numpy as np
import pandas as pd


class FirstFeature:
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> FirstFeature:
        self.column_ = X.columns[0]
        self.fill_ = float(np.nanmedian(X[self.column_])) if X[self.column_].notna().any() else 0.0
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.column_].fillna(self.fill_).to_numpy(np.float64)
