"""Teacher-student annotation: subclips -> teacher reasoning -> grounded boxes -> WebDataset shards.

- :mod:`vanguard.annotate.teacher`: the teacher answer schema, its validation, ``ScriptedTeacher``, ``QwenTeacher``.
- :mod:`vanguard.annotate.grounder`: ``OracleGrounder`` (ground-truth boxes), ``GroundingDinoGrounder``.
- :mod:`vanguard.annotate.module`: ``AnnotatorModule`` (run by ``Trainer.predict``) and its per-rank dataset.
- :mod:`vanguard.annotate.writer`: ``ShardPredictionWriter``: restartable per-rank shards, manifest and stats.
- :mod:`vanguard.annotate.cli`: ``python -m vanguard annotate --config experiments/<exp>/annotate.yaml``.
- :mod:`vanguard.annotate.inspect`: ``python -m vanguard data inspect SHARDS``.
"""
