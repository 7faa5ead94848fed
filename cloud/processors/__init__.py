"""The hot path: stream processors that run in seconds — event-time windows, alarm detectors
(the IoT Events model) and anomaly scores — on the stream's consumers."""
