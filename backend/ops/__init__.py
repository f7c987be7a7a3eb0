"""Operations: systemd notification, Prometheus metrics and the ``coachiq doctor`` checks."""
