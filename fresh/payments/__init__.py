"""payments (see DESIGN.md)."""

ROUTES: list = []
