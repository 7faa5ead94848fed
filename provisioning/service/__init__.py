"""The local fleet provisioning service: IoT Core's provisioning API for the rig."""
