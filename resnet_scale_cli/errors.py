"""Errors the command line turns into a one-line message and exit code 2."""


class SpecError(ValueError):
    """An invalid setting or input: the message names the flag or file at fault."""
