"""The one exception type for problems a user can fix (bad model, bad file, bad option)."""


class LenetcError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits 2."""
