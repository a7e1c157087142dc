"""The one error the command turns into a message and exit status 1 (no traceback)."""


class CommandError(Exception):
    pass
