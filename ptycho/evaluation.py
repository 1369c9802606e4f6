"""``ptycho.evaluation`` (physics §11): ``eval_reconstruction``."""

from ptychopinn_plugin.evaluation import eval_reconstruction  # noqa: F401

__all__ = ["eval_reconstruction"]
