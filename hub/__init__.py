"""The hub: capacity engine, inventory and migration control for a fleet of KubeVirt clusters."""
