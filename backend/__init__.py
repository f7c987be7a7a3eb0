"""CoachIQ: an RV-C control server."""

__version__ = "0.1.0"
