"""The HTTP side of payouts: API, pages, schemas and presenters."""
