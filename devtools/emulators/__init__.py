"""Local stand-ins for Railway and Stripe that speak their real wire protocols (DESIGN 6)."""
