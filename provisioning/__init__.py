"""Fleet provisioning: the device client (claim certificate -> own certificate -> thing), the
local provisioning service (endpoint, CA, registry, templates, revocation) and the AWS artifacts."""
