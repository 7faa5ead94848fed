"""The local IoT Core rig: Mosquitto with mutual TLS, a generated CA and per-thing ACLs."""

from cloud.rig.acl import CLOUD_USER, AclPolicy
from cloud.rig.errors import RigError
from cloud.rig.identity import RigIdentity
from cloud.rig.rig import Rig, free_port
from provisioning.grants import TopicGrant
from provisioning.pki import CertificateAuthority

__all__ = ["CLOUD_USER", "AclPolicy", "CertificateAuthority", "Rig", "RigError", "RigIdentity", "TopicGrant",
           "free_port"]
