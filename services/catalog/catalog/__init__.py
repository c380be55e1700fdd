"""Catalog service: sellers, products, stock and reservations."""
