"""Domain logic: what the API does, free of HTTP, Lambda events and storage formats."""
