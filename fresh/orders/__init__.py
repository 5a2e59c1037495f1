"""orders (see DESIGN.md)."""

ROUTES: list = []
