"""Catalog: where sources are declared and tables are resolved."""
from fedq.catalog.catalog import BoundTable, Catalog
from fedq.catalog.config import load_catalog_file

__all__ = ["BoundTable", "Catalog", "load_catalog_file"]
