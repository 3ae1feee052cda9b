"""seisbind: multimodal contrastive learning and pre-event anomaly studies for seismology."""

from seisbind import config  # noqa: F401  (registers the OmegaConf resolvers the configs use)
