"""Framework-free helpers shared by every layer (atomic files, bilinear sampling)."""
