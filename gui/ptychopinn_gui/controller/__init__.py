"""Controllers: connect the Qt-free models and the worker to the views (Qt)."""
