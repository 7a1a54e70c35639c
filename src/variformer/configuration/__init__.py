"""Configuration of the Variformer family."""

from .config import VariformerConfig
from .presets import PRESETS

__all__ = ["VariformerConfig", "PRESETS"]
