"""The small part of MQTT 3.1.1 the provisioning endpoint speaks (server side)."""
