"""The HTTP side of users: API, pages, schemas and presenters."""
