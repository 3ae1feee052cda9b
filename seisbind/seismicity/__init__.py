"""Seismicity as the field models it, shared by the synthetic writer, the catalog features and the clustering null.

- `magnitudes`: seismic moment, magnitude bins, completeness Mc (maximum curvature), the Aki-Utsu b-value and
  Gutenberg-Richter sampling.
- `declustering`: Gardner-Knopoff (1974) mainshock selection.
- `window_features`: the seismicity of a catalog within time windows (counts, moment, spread, Mc, b).
- `etas`: the temporal ETAS model (Ogata 1988) with its one productivity law, its maximum-likelihood fit and its
  branching simulation.

It sits below `seisbind.data` and `seisbind.probe`: it reads frames in the catalog layout of
`seisbind.data.catalog` (time, latitude_deg, longitude_deg, depth_km, magnitude) but imports neither.
"""
