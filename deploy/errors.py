"""Why setup or teardown cannot go on, as values the command line renders."""

from __future__ import annotations

EXIT_FAILED = 1  # a command failed on Google Cloud
EXIT_USAGE = 2  # bad flags or a topology deploy cannot turn into commands


class DeployError(Exception):
    """What went wrong and what to do about it; ``exit_code`` says which kind."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class PlanError(DeployError):
    """The topology or the flags cannot be turned into commands (nothing was run)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", EXIT_USAGE)
        self.field = field
