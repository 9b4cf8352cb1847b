"""The HTTP side of comments: API, pages, schemas and presenters."""
