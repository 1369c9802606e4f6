"""Developer tools of the desktop app (documentation screenshots)."""
