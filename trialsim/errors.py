"""The one exception a user should ever see from trialsim: bad input, told in one line,
and the one way of saying it on the command line (`fail`, exit 2)."""

import sys
from typing import NoReturn

EXIT_BAD_INPUT = 2
EXIT_WRITE_FAILED = 1


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Each line of `message` as `trialsim: error: ...` on stderr, then exit `code`."""
    for line in message.splitlines() or [message]:
        print(f"trialsim: error: {line}", file=sys.stderr)
    sys.exit(code)


class ConfigError(ValueError):
    """A configuration value that the model cannot run with.

    The message names the key, the value given and what is allowed, so that the
    command line can print it as a single line without a traceback.
    """

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: {allowed}")


class ConfigErrors(ConfigError):
    """Every bad value of a config, found in one pass: one line per problem."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        self.key, self.value, self.allowed = first.key, first.value, first.allowed
        ValueError.__init__(self, "\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]
