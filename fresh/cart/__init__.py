"""cart (see DESIGN.md)."""

ROUTES: list = []
