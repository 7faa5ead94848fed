"""The rig's one error type: a message fit for one line on a terminal."""

from provisioning.service.broker import BrokerControlError


class RigError(BrokerControlError):
    """The rig cannot do what was asked (broker missing, port taken, not running...)."""
