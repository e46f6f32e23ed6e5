"""The pure capacity engine: no I/O, no clock; every answer carries its explanation."""
