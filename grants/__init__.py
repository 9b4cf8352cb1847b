"""Pearl Grants: seed money for the BSR Cultural Pearls."""

from grants.app import create_app

__all__ = ["create_app"]
