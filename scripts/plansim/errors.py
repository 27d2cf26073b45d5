"""The one exception type users see.

Every bad-input or fault path raises ``PlansimError`` with a message that names the file,
the rows or keys, and the reason. Scripts print ``str(error)`` and exit non-zero.
"""

from __future__ import annotations


class PlansimError(Exception):
    """A user-facing failure: bad census, config, prior-year file, locked database."""


class CensusError(PlansimError):
    """The census file cannot be used. ``problems`` lists one line per problem."""

    def __init__(self, path: str, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        lines = [f"census file {self.path} is invalid:"] + [f"  - {p}" for p in shown]
        if more > 0:
            lines.append(f"  ... and {more} more problem(s)")
        super().__init__("\n".join(lines))


class ConfigError(PlansimError):
    """The config cannot be used. The message names the key path."""


class StateFileError(PlansimError):
    """A prior-year state file is missing, corrupt, from another scenario or malformed."""


class DatabaseLockedError(PlansimError):
    """The scenario's DuckDB file stayed locked past the retry bound."""


class QualityGateError(PlansimError):
    """A validation after a phase failed: names the check, the year and the count."""
