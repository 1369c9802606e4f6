"""Qt-free application state of the desktop app.

Everything here is plain Python/NumPy so it can be unit-tested without a display and
reused by other front ends: parameter sets generated from the configuration
dataclasses, dataset and model summaries, training-session bookkeeping, recent files,
presets and exports.  Nothing in this package imports PyQt5 or a deep-learning
framework.
"""
