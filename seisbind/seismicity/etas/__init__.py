"""Temporal ETAS: the model and its productivity law (`model`), the maximum-likelihood fit (`fit`) and the
branching simulation (`simulate`)."""

from seisbind.seismicity.etas.fit import EtasFit, draw_parameters, fit_etas
from seisbind.seismicity.etas.model import EtasParameters, omori_integral, productivity
from seisbind.seismicity.etas.simulate import simulate_catalogs, simulate_etas

__all__ = ["EtasFit", "EtasParameters", "draw_parameters", "fit_etas", "omori_integral", "productivity",
           "simulate_catalogs", "simulate_etas"]
