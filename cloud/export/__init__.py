"""``edgeferry cloud export``: the rules file and the provisioning settings as one deployable stack."""
