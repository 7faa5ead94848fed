"""AWS artifacts for fleet provisioning by claim: the provisioning template and the IoT policies."""
