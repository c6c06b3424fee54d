"""The one base class for errors whose message is meant for the user."""


class UserError(Exception):
    """Bad input or an impossible request: the CLI prints the message and exits non-zero."""
