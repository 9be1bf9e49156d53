"""Marshmallow schemas of the fixture addon."""
