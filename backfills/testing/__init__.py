"""Test doubles for services out of reach: a local HTTP server that answers like Binance."""
