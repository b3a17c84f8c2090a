"""Local servers and fixtures for testing token providers."""
