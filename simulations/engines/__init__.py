"""Simulation engines: pure Python, deterministic, no Django imports."""
