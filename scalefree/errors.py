"""The base class for errors whose message is meant for the user, and the ones raised deep inside."""


class UserError(Exception):
    """Bad input or an impossible request: the CLI prints the message and exits non-zero."""


class Diverged(UserError):
    """Training made the loss or a weight infinite or NaN; nothing of it is saved."""
