"""The capacity report: cluster objects read and sized into a report."""
