"""The one error type for bad user input.

Library code raises :class:`InputError` with a message that names the problem and
the fix; the CLI turns it into a clean message and exit code 2 (no traceback).
"""


class InputError(ValueError):
    """Bad user input: a file, an argument or a config value we cannot use."""
