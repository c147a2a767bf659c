"""Benchmarks: `python -m bot.bench <name>` runs bot/bench/<name>.py against a real bot subprocess."""
