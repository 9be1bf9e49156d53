"""Lifecycle test addon, version 2."""
