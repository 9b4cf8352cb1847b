"""The HTTP side of cities: API, pages, schemas and presenters."""
