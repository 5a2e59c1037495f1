"""Demo data that is not the shop: drawing the demo catalog's pictures."""
