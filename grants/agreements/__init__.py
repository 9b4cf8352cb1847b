"""The grant agreement: a PDF issued on approval, signed by the city, countersigned by finance."""
