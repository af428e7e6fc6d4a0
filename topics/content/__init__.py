"""Seed content: plain data (seed.py), the seed text it was transcribed from, and Markdown bodies."""
