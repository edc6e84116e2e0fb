"""The service package (name and description: about.py)."""
