"""catalog (see DESIGN.md)."""

ROUTES: list = []
