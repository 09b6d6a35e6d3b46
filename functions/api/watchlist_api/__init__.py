"""The Watchlist HTTP API: FastAPI routes over the domain core, served by Lambda through Mangum."""
