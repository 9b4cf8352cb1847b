"""The HTTP side of grant: API, pages, schemas and presenters."""
