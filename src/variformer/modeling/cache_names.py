"""The KV cache's keyword, as the installed transformers spells it.

transformers 5.24 renamed the cache `past_key_values` -> `cache`: `generate()` passes `cache=` to `forward`, reads
`outputs.cache` back, and `GradientCheckpointingLayer` drops `kwargs["cache"]`. Earlier 5.x releases use
`past_key_values` throughout. The name is read off the library itself (the fields of its output dataclasses and the
parameters of its mask functions), never off a version string, so a backport or a rename back needs no change here.

Our forwards take both names; the one the installed release does not use is an alias.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

from transformers.cache_utils import Cache
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithPast

# the keyword under which the installed transformers passes the cache to `forward` and reads it from the outputs
CACHE_KWARG = "cache" if "cache" in {field.name for field in fields(CausalLMOutputWithPast)} else "past_key_values"
# the keyword the installed mask functions (`create_causal_mask`, `create_bidirectional_mask`) take it under
MASK_CACHE_KWARG = "cache" if "cache" in inspect.signature(create_causal_mask).parameters else "past_key_values"


def resolve_cache(cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The one cache a caller passed, under either name."""
    if cache is not None and past_key_values is not None and cache is not past_key_values:
        raise ValueError(
            "Both `cache` and `past_key_values` were passed, and they are different caches; they are two names for "
            f"the same argument (this transformers calls it `{CACHE_KWARG}`): pass one of them."
        )
    return cache if cache is not None else past_key_values


def cache_field(cache: Cache | None) -> dict[str, Cache | None]:
    """Keyword arguments that put `cache` on a transformers output dataclass under the installed field name."""
    return {CACHE_KWARG: cache}


def output_cache(outputs) -> Cache | None:
    """The cache held by a transformers output (None when it holds none), without the deprecated attribute."""
    return outputs.get(CACHE_KWARG)


__all__ = ["CACHE_KWARG", "MASK_CACHE_KWARG", "cache_field", "output_cache", "resolve_cache"]
