"""edgeferry: the command line and the end-to-end demo over the edge_agent and cloud packages."""
