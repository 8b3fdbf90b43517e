"""Dataset formats (one reader module per real on-disk format), SynthCrime, subclips and leakage checks."""
