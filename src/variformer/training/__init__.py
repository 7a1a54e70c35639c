"""Training and fine-tuning of Variformer models: recipes over transformers' Trainer, PEFT LoRA/QLoRA, accelerate."""

from .._peft_defaults import DEFAULT_LORA_TARGET_MODULES, register_peft_defaults
from .lora import apply_lora, lora_config
from .recipe import Recipe, RecipeError, load_recipe, recipe_from_dict
from .tokenizer import load_tokenizer, train_tokenizer
from .trainer import run_recipe

__all__ = [
    "DEFAULT_LORA_TARGET_MODULES",
    "Recipe",
    "RecipeError",
    "apply_lora",
    "load_recipe",
    "load_tokenizer",
    "lora_config",
    "recipe_from_dict",
    "register_peft_defaults",
    "run_recipe",
    "train_tokenizer",
]
