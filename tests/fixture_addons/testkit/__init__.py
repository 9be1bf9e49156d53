"""Fixture addon for core tests: gadgets with parts."""
