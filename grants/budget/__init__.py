"""The programme budget of each title year: what all the titles of one year may commit together."""
