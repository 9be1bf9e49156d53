"""Lifecycle test addon, version 1."""
