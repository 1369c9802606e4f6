"""Standalone PyQt5 desktop application for ptychopinn (``ptychopinn-gui``).

Installed as ``ptychopinn_gui`` (never a top-level ``gui`` module in site-packages).
Entry point: :func:`ptychopinn_gui.app.main`.  Layout (see ``docs/desktop_app.md``):

* :mod:`.model` — Qt-free state (parameter sets generated from the configuration
  dataclasses, dataset/model summaries, progress, exports);
* :mod:`.worker` — Qt-free worker process running training and inference;
* :mod:`.controller` — Qt controllers wiring models, worker and views;
* :mod:`.view` — the widgets.

Importing this package imports neither Qt nor a deep-learning framework; only the
``view``/``controller`` modules and :func:`.app.main` (after checking that PyQt5 is
installed) import PyQt5, and only the worker child imports a framework.
"""
