"""PEFT's default LoRA target modules for model_type "variformer", registered without importing PEFT up front.

With the entry in PEFT's table of defaults, `get_peft_model(model, LoraConfig(r=8))` adapts every attention
projection (self and cross: `q_proj`, `k_proj`, `v_proj`, `o_proj`) and every feed-forward projection (`gate_proj`,
`up_proj`, `down_proj`; `gate_proj` exists only with gated activations) of any Variformer head without naming
modules. PEFT is a heavy import that `import variformer` must not pay, so `register_when_peft_loads()` adds the entry
at once if PEFT is already imported, and otherwise right after PEFT's first import finishes (a one-shot import hook).
"""

from __future__ import annotations

import importlib.abc
import sys

DEFAULT_LORA_TARGET_MODULES: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def register_peft_defaults() -> None:
    """Add model_type "variformer" to PEFT's default LoRA target-module table (idempotent; imports PEFT)."""
    from peft.tuners.lora.model import LoraModel
    from peft.utils import constants

    for mapping in (constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING, LoraModel.target_module_mapping):
        mapping.setdefault("variformer", list(DEFAULT_LORA_TARGET_MODULES))


def register_when_peft_loads() -> None:
    """`register_peft_defaults()` now if PEFT is imported, else as soon as its first import completes."""
    if "peft" in sys.modules:
        register_peft_defaults()
    elif not any(isinstance(finder, _AfterPeftImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterPeftImport())


class _AfterPeftImport(importlib.abc.MetaPathFinder):
    """Finds no module itself: for `peft` it asks the finders after it and wraps the loader they return, so that
    the registration runs once the package has executed. A spec only looked up (`importlib.util.find_spec`, as
    transformers' `is_peft_available` does) is never executed, so the hook stays until the real import."""

    def find_spec(self, name, path=None, target=None):
        if name != "peft":
            return None
        finders = sys.meta_path[sys.meta_path.index(self) + 1 :] if self in sys.meta_path else []
        for finder in (finder for finder in finders if hasattr(finder, "find_spec")):
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


class _RegisteringLoader(importlib.abc.Loader):
    """`loader`, removing the hook and calling `register_peft_defaults()` after the module executes; anything else
    is the loader's own."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _AfterPeftImport)]
        register_peft_defaults()


__all__ = ["DEFAULT_LORA_TARGET_MODULES", "register_peft_defaults", "register_when_peft_loads"]
