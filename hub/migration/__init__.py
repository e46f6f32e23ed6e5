"""Migrations on the hub: accept, cancel, progress, transitions, reservations, stalls."""
