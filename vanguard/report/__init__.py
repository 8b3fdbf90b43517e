"""Reports for people: Markdown/HTML with PNG plots for a test run, and an explanation page per video.

- :mod:`vanguard.report.predictions`: the per-subclip predictions JSON (the one module that owns its format).
- :mod:`vanguard.report.tables`: metrics as Markdown tables.
- :mod:`vanguard.report.plots`: ROC / PR curves, score timelines, keyframes with boxes (matplotlib Agg).
- :mod:`vanguard.report.render`: ``report.md`` / ``report.html`` for a run, and the per-video HTML page.
"""
