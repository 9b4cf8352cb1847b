"""HTTP layer of grant agreements: the API, the page actions, schemas and presenters."""
