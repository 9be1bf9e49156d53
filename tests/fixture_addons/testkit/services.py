"""Business rules of the fixture addon."""
