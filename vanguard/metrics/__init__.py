"""Evaluation by the community's protocols (frame-level, pooled), grounding, answer validity and reasoning text.

- :mod:`vanguard.metrics.scores`: the saved per-video score formats (ours and the peers' per-snippet arrays).
- :mod:`vanguard.metrics.protocols`: frame-level ground truth, subclip/snippet expansion, pooled ROC-AUC / AP / F1.
- :mod:`vanguard.metrics.presets`: the peers' protocols (RTFM, UR-DMU, VadCLIP, PEL4VAD, XDVioDet, LAVAD, VERA).
- :mod:`vanguard.metrics.ground_truth`: test-set ground truth from UCF-Crime / XD-Violence / ShanghaiTech files.
- :mod:`vanguard.metrics.grounding`: IoU-0.5 grounding accuracy and mean IoU.
- :mod:`vanguard.metrics.answers`: invalid-answer rates by reason (:class:`~vanguard.metrics.answers.InvalidAnswers`, the
  one count the stages log and ``metrics.json`` reports).
- :mod:`vanguard.metrics.text`: ROUGE-L of generated reasoning.
"""
