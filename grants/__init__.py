"""Pearl Grants: seed money for the BSR Cultural Pearls.

The app is built by ``grants.app.create_app``; importing this package imports nothing else, so
that any module of it can be imported first.
"""
