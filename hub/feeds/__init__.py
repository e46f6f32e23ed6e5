"""Alerts, recommendations, the event stream of both, and the outgoing webhook."""
