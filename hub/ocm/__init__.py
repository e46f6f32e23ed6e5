"""Open Cluster Management: the hub's clusters kept as the hub cluster's ManagedClusters
are, with their labels, cluster sets, availability and Placement decisions, and each
cluster's spoke token in a Secret in its namespace there."""
