"""Local development without Docker: template reading, moto server, table bootstrap, local gateway."""
