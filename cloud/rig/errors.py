"""The rig's one error type: a message fit for one line on a terminal."""


class RigError(Exception):
    """The rig cannot do what was asked (broker missing, port taken, not running...)."""
