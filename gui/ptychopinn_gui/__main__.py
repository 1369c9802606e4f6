"""``python -m ptychopinn_gui`` ≡ ``ptychopinn-gui``."""

import sys

from ptychopinn_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
