"""Tickets: the example domain. Listing, creating, reading and buying, never selling one twice."""
