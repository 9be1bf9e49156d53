"""Lifecycle test addon that fails halfway through its install."""
