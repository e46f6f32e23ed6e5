"""Cluster capacity as the hub knows it: intake, inventory, summaries, the check."""
