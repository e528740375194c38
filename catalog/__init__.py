"""Catalog: where sources are declared and tables are resolved."""
from fedq.catalog.catalog import BoundTable, Catalog

__all__ = ["BoundTable", "Catalog"]
