"""Device Defender device-side metrics: collection and the documented report format."""
