"""Share a Variformer on the Hub: a self-contained repo (weights, remote code, model card) pushed in one commit.

- `export.export_model`: the Hub folder (safetensors, config.json with `auto_map`, generation config, tokenizer,
  the model code written by transformers' `custom_object_save` (`remote_code.save_remote_code`), README.md from
  `model_card.build_model_card`);
- `upload.push_checkpoint`: export + create_repo + one commit (`variformer push`, see `cli`).
"""

from .export import ExportedModel, ExportError, export_model, load_checkpoint, served_auto_classes
from .model_card import CardOptions, ModelCardError, build_model_card, load_eval_results
from .remote_code import RemoteCodeError, save_remote_code
from .upload import PushError, PushResult, push_checkpoint, push_folder

__all__ = [
    "CardOptions",
    "ExportError",
    "ExportedModel",
    "ModelCardError",
    "PushError",
    "PushResult",
    "RemoteCodeError",
    "build_model_card",
    "export_model",
    "load_checkpoint",
    "load_eval_results",
    "push_checkpoint",
    "push_folder",
    "save_remote_code",
    "served_auto_classes",
]
