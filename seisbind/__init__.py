"""seisbind: multimodal contrastive learning and pre-event anomaly studies for seismology."""
