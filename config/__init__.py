"""Configuration: typed environment settings and the support configuration (levels, routes, customers)."""
