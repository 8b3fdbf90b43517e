"""Errors the CLI turns into one clear line (no traceback from deep inside a library)."""


class VanguardError(Exception):
    """Base of the project's user-facing errors."""


class BackboneNotFoundError(VanguardError, FileNotFoundError):
    """The backbone directory is missing or lacks the files a Qwen3-VL checkpoint has."""


class ConfigError(VanguardError, ValueError):
    """A configuration that cannot work (e.g. ``init_from`` pointing at nothing)."""


class NonFiniteLossError(VanguardError, FloatingPointError):
    """A training loss became NaN or infinite; raised before the optimizer step, so checkpoints stay finite."""
