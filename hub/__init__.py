"""The hub: capacity engine, fleet inventory, migrations and access for KubeVirt clusters."""
