"""The HTTP side of rates: API, pages, schemas and presenters."""
