"""Orders service: checkout, the order lifecycle, and the checkout saga's decisions."""
