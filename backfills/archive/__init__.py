"""Binance's public data archives (data.binance.vision) as a backfill source: layout, download and checksum,
streamed CSV parsing, the planner that picks the cheapest source per range, and the runner of archive jobs."""
