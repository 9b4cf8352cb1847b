"""The HTTP side of the programme budget: API, pages, schemas and presenters."""
