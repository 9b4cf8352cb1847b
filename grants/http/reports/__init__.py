"""The HTTP side of reports: API, pages, schemas and presenters."""
