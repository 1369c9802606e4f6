"""Standalone PyQt5 desktop application for ptychopinn (``ptychopinn-gui``).

Installed as ``ptychopinn_gui`` (never a top-level ``gui`` module in site-packages).
The application itself is built in the desktop-app issue; this package exists now so
packaging and import rules are fixed from the start.
"""
