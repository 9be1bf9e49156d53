"""Mosaic core: the ground every addon stands on. Nothing in core imports an addon."""

__version__ = "0.1.0"
