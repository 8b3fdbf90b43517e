"""SynthCrime: a generated miniature of UCF-Crime written in the real datasets' on-disk formats.

- :mod:`.scenes`: fixed-camera backgrounds (street, parking lot, plaza, shop; highway and campus for the zero-shot
  domains) and where agents may go;
- :mod:`.agents`: people and cars, their tracks and drawing; :mod:`.effects`: fire, blasts, damage, flashes;
- :mod:`.anomalies`: one script per category and the look-alike normal behaviours;
- :mod:`.render`: lighting drift, sensor noise, OSD clock; :mod:`.world`: one video and its ground truth;
- :mod:`.writer`: the dataset layouts (``python -m vanguard data synthcrime OUT``).
"""
