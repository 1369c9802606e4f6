"""Qt widgets of the desktop app (no application logic: controllers wire them up)."""
