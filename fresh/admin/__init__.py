"""admin (see DESIGN.md)."""

ROUTES: list = []
