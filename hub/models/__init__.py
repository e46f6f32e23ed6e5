"""Wire and domain models shared by the hub, the spoke agent and the engine."""
