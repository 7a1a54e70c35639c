"""The remote-code generator: the real package flattens into self-contained files, and the flattening keeps the
meaning of code written in styles the package may grow into (lazy imports, aliases, module imports, name clashes).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from variformer.hub_upload.remote_code import RemoteCodeError, generate_remote_code


def _imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_installed_package_flattens_into_two_self_contained_files():
    import variformer

    remote = generate_remote_code()
    assert set(remote.files) == {"configuration_variformer.py", "modeling_variformer.py"}
    for name, source in remote.files.items():
        imports = _imports(source)
        assert not [m for level, m in imports if level == 0 and m.split(".")[0] == "variformer"], name
        assert all(level in (0, 1) for level, _ in imports), name
        assert {m for level, m in imports if level == 1} <= {"configuration_variformer"}, name
    assert (1, "configuration_variformer") in _imports(remote.files["modeling_variformer.py"])
    assert remote.class_reference(variformer.VariformerConfig) == "configuration_variformer.VariformerConfig"
    for model_class in variformer.AUTO_CLASSES.values():
        assert remote.class_reference(model_class) == f"modeling_variformer.{model_class.__name__}"


# A synthetic `variformer` source tree exercising what the flattener must handle.
SYNTHETIC = {
    "__init__.py": "from .configuration import Cfg\n__version__ = '9'\n",
    "configuration/__init__.py": """
        from .config import Cfg
        from .presets import PRESETS, preset_value
        __all__ = ["Cfg", "PRESETS", "preset_value"]
    """,
    "configuration/config.py": """
        from __future__ import annotations
        import math


        class Cfg:
            def __init__(self, size: int = 4):
                self.size = size

            @classmethod
            def preset(cls, name: str) -> "Cfg":
                from .presets import PRESETS  # lazy: presets is flattened into the same file
                return cls(**PRESETS[name])


        def _check(x):
            return x + math.floor(0.5)
    """,
    "configuration/presets.py": """
        PRESETS = {"small": {"size": 3}}


        def _check(x):  # clashes with config._check: renamed in the flat file
            return -x


        def preset_value():
            return _check(1)
    """,
    "modeling/__init__.py": """
        from .heads import Head
        from .blocks import Block
        from . import helpers as helper_ns
        __all__ = ["Head", "Block", "helper_ns"]
    """,
    "modeling/helpers.py": """
        import math as m
        import os.path
        try:
            import json
        except ImportError:  # pragma: no cover
            json = None


        def _check(x):
            return x * 10


        def scale(x):
            return _check(x) + m.floor(0.1) + len(os.path.basename(""))


        logger = "helpers-logger"
    """,
    "modeling/blocks.py": """
        from __future__ import annotations

        import os

        from ..configuration import Cfg
        from .helpers import scale as rescale
        from variformer.modeling import helpers

        logger = "blocks-logger"  # clashes with helpers.logger


        class Block:
            logger = "class attribute"

            def __init__(self, cfg: Cfg):
                self.cfg = cfg

            def run(self, x):
                logger = "local"
                return rescale(x) + helpers.scale(1), logger

            def name(self):
                return logger + os.sep * 0
    """,
    "modeling/heads.py": """
        from .blocks import Block
        from ..configuration.config import _check as config_check


        class Head(Block):
            def total(self, x):
                from .helpers import scale
                return scale(x) + config_check(2) + self.cfg.size
    """,
}

CHECK = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
config = importlib.import_module("remote.configuration_variformer")
modeling = importlib.import_module("remote.modeling_variformer")
assert not any(name.startswith("variformer") for name in sys.modules)
cfg = config.Cfg.preset("small")
head = modeling.Head(cfg)
print(json.dumps({
    "size": cfg.size, "preset_value": config.preset_value(), "total": head.total(2), "run": head.run(1),
    "name": head.name(), "class_logger": modeling.Block.logger, "ns": modeling.helper_ns.scale(3),
    "all": sorted(modeling.__all__), "json": modeling.json is not None,
}))
"""


def _write_tree(root, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / "variformer" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def test_flattening_keeps_the_meaning_of_tricky_code(tmp_path):
    _write_tree(tmp_path / "src", SYNTHETIC)
    remote = generate_remote_code(tmp_path / "src" / "variformer", version="9")
    package = tmp_path / "out" / "remote"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, source in remote.files.items():
        (package / name).write_text(source)
        assert "variformer" not in {m.split(".")[0] for level, m in _imports(source) if level == 0}
    result = subprocess.run([sys.executable, "-I", "-c", CHECK, str(tmp_path / "out")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    values = __import__("json").loads(result.stdout)
    assert values == {
        "size": 3, "preset_value": -1, "total": 20 + 2 + 3, "run": [20, "local"], "name": "blocks-logger",
        "class_logger": "class attribute", "ns": 30, "all": ["Block", "Head", "helper_ns"], "json": True,
    }
    assert remote.locations[("variformer.modeling.heads", "Head")] == "modeling_variformer.Head"
    assert remote.locations[("variformer.configuration.presets", "_check")] == \
        "configuration_variformer._check_presets"


@pytest.mark.parametrize("module_text, message", [
    ("import variformer.modeling.helpers\n", "cannot be flattened"),
    ("from variformer import __version__\n", "top-level 'variformer' package"),
    ("from .helpers import missing\n", "has no module-level name 'missing'"),
])
def test_unsupported_constructs_raise_with_the_place(tmp_path, module_text, message):
    files = dict(SYNTHETIC)
    files["modeling/heads.py"] = module_text + textwrap.dedent(SYNTHETIC["modeling/heads.py"]).lstrip()
    _write_tree(tmp_path, files)
    with pytest.raises(RemoteCodeError, match=message) as caught:
        generate_remote_code(tmp_path / "variformer", version="9")
    assert "heads.py:" in str(caught.value)
