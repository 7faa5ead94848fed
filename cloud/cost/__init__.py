"""The cost model of a fleet on AWS: ``edgeferry cloud cost``, from published prices kept in a
dated data file (``prices.yaml``), batched against raw publishing."""
