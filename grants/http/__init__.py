"""The HTTP layer: the JSON API, the pages and what they share (auth, sessions, forms, errors)."""
