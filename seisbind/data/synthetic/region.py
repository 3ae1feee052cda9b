"""The real places of the 2016 central-Italy sequence that the synthetic data are drawn around.

Why a module of its own: these tables are data, not code. The catalog, the station layout and the config check all
read them, and keeping them apart lets each of those modules stay about what it computes. Coordinates are
approximate, for realism only: they make the files look like INGV's.
"""

from __future__ import annotations

KM_PER_DEG = 111.19492664455873
"""Kilometres per degree of great circle on a 6371 km sphere (as obspy.geodetics uses)."""

# The 2016 central-Italy mainshocks: name, origin time (UTC), latitude, longitude, depth km, magnitude (Mw).
NORCIA_MAINSHOCKS = [
    ("Amatrice", "2016-08-24T01:36:32", 42.70, 13.23, 8.1, 6.0),
    ("Visso", "2016-10-26T19:18:05", 42.91, 13.13, 7.5, 5.9),
    ("Norcia", "2016-10-30T06:40:18", 42.83, 13.11, 9.2, 6.5),
]

# Network IV stations of central Italy (approximate coordinates, for realism only): code, lat, lon, elevation m,
# channels, location code.
STATIONS = [
    ("NRCA", 42.8335, 13.1143, 927, "HH,HN", ""), ("MMO1", 42.8990, 13.3270, 957, "HH,HN", ""),
    ("CAMP", 42.5358, 13.4090, 1282, "HH", ""), ("FOSV", 43.2870, 12.7637, 480, "HH", ""),
    ("ASSB", 43.0426, 12.6587, 734, "HH,HN", ""), ("CESI", 43.0049, 12.9046, 745, "HH,HN", ""),
    ("LNSS", 42.6028, 12.9689, 885, "HH", ""), ("ARRO", 42.5792, 12.7657, 253, "EH", ""),
    ("RM33", 42.5089, 13.2145, 1100, "HH", ""), ("TERO", 42.6228, 13.6036, 649, "HH,HN", ""),
    ("FIAM", 42.2680, 13.1169, 1070, "HH", ""), ("GUMA", 43.0627, 13.3352, 545, "HH", ""),
    ("SSFR", 43.4363, 12.7834, 562, "HH", ""), ("ATFO", 43.3659, 12.5710, 543, "EH", "00"),
    ("SNTG", 43.2552, 12.9406, 700, "EH", "00"), ("SPO1", 42.7347, 12.7455, 480, "HH,HN", ""),
    ("FDMO", 43.0366, 13.0873, 550, "HH", ""), ("ACCU", 42.6960, 13.2430, 870, "HN", ""),
    ("AMT", 42.6324, 13.2864, 950, "HH,HN", ""), ("MTCE", 42.9780, 12.5520, 420, "EH", ""),
    ("CING", 43.3756, 13.1950, 626, "HH", ""), ("SMA1", 42.9700, 13.6300, 310, "EH", ""),
]

# Towns for INGV-style location names ("3 km SW Norcia (PG)").
TOWNS = [
    ("Norcia", "PG", 42.7925, 13.0935), ("Visso", "MC", 42.9302, 13.0885), ("Amatrice", "RI", 42.6286, 13.2919),
    ("Accumoli", "RI", 42.6946, 13.2476), ("Arquata del Tronto", "AP", 42.7726, 13.2966),
    ("Preci", "PG", 42.8806, 13.0383), ("Ussita", "MC", 42.9431, 13.1386), ("Cascia", "PG", 42.7183, 13.0135),
    ("Camerino", "MC", 43.1355, 13.0683), ("Pieve Torina", "MC", 43.0432, 13.0478),
    ("Montereale", "AQ", 42.5236, 13.2453), ("Campotosto", "AQ", 42.5583, 13.3675),
    ("Sellano", "PG", 42.8877, 12.9260), ("Muccia", "MC", 43.0817, 13.0444), ("Montemonaco", "AP", 42.8985, 13.3311),
    ("Leonessa", "RI", 42.5640, 12.9614), ("Sarnano", "MC", 43.0338, 13.2996), ("Spoleto", "PG", 42.7342, 12.7386),
]

# Quarries whose blasts INGV lists as `quarry blast`: latitude, longitude.
QUARRY_SITES = [(42.955, 12.935), (42.585, 13.140), (43.120, 13.380)]
