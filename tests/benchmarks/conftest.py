"""The tiny-run fixtures every benchmark and probe smoke test shares (``tests.helpers.bench_rows``)."""

from tests.helpers.bench_rows import keep_threads, work  # noqa: F401
