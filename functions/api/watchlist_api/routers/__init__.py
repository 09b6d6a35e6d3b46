"""One router per resource group; each route parses, calls one service method and shapes the response."""
