"""The local IoT Core rig: Mosquitto with mutual TLS, a generated CA and IoT-policy authorisation."""

from cloud.rig.errors import RigError
from cloud.rig.identity import RigIdentity
from cloud.rig.rig import CLOUD_USER, Rig, free_port
from cloud.rig.rules import BrokerAuthorization, Limits
from provisioning.pki import CertificateAuthority

__all__ = ["CLOUD_USER", "BrokerAuthorization", "CertificateAuthority", "Limits", "Rig", "RigError", "RigIdentity",
           "free_port"]
