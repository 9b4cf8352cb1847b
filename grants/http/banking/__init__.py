"""HTTP layer of the cities' bank accounts: the API, the pages and the output."""
