"""Websockets (placeholder until filled in)."""
