"""Spread matplotlib redraws over event-loop iterations.

``draw_idle`` on several canvases renders all of them in the same paint cycle, so an
epoch message (loss plot) and a preview (four images) arriving together would block the
GUI thread for the sum of both renders.  :class:`RedrawQueue` renders at most one
canvas per event-loop turn (a zero-interval timer), coalescing repeated requests for
the same canvas; between two renders the loop processes input and timers.
"""

from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import QObject, QTimer

__all__ = ["RedrawQueue"]


class RedrawQueue(QObject):
    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._pending: list = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._render_one)
        self.renders = 0

    def request(self, canvas) -> None:  # noqa: ANN001 - FigureCanvasQTAgg
        if canvas not in self._pending:
            self._pending.append(canvas)
        if not self._timer.isActive():
            self._timer.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _render_one(self) -> None:
        if not self._pending:
            return
        canvas = self._pending.pop(0)
        try:
            canvas.draw()  # renders into the Agg buffer and schedules a cheap blit (update())
        except RuntimeError:  # canvas deleted meanwhile
            pass
        self.renders += 1
        if self._pending:
            self._timer.start()

    def flush(self) -> None:
        """Render everything now (screenshots, tests)."""
        while self._pending:
            self._render_one()
