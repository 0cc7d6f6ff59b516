"""The one exception a user should ever see from trialsim: bad input, told in one line."""


class ConfigError(ValueError):
    """A configuration value that the model cannot run with.

    The message names the key, the value given and what is allowed, so that the
    command line can print it as a single line without a traceback.
    """

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: {allowed}")
