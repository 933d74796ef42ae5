"""Security controls of 等保 2.0 level 3: encryption at rest, the security-event log, rate limits, uploads."""
