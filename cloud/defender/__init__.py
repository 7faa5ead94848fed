"""Device security monitoring in the Device Defender model: profiles, the detector, reports."""
