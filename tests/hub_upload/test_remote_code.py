"""Staging the model code for transformers' `custom_object_save`: the one cross-folder import rewrite, the flat
layout of the real package, and clear errors for imports a flat folder cannot resolve."""

from __future__ import annotations

import ast
import textwrap

import pytest

from variformer.hub_upload.remote_code import RemoteCodeError, flat_source, stage_flat_source


def test_cross_folder_imports_become_same_folder_imports():
    source = textwrap.dedent("""
        from ..configuration import VariformerConfig
        from ..configuration.config import VariformerConfig as Config
        from .norms import build_norm
        from transformers.utils import TransformersKwargs


        def lazy():
            from ..configuration.presets import preset_kwargs
            return preset_kwargs
    """)
    assert flat_source(source) == textwrap.dedent("""
        from .configuration import VariformerConfig
        from .config import VariformerConfig as Config
        from .norms import build_norm
        from transformers.utils import TransformersKwargs


        def lazy():
            from .presets import preset_kwargs
            return preset_kwargs
    """)


def test_real_package_stages_flat_with_only_same_folder_imports(tmp_path):
    written = stage_flat_source(tmp_path)
    assert {"configuration.py", "config.py", "presets.py", "modeling.py", "heads.py", "models.py"} <= set(written)
    assert sorted(written) == sorted(path.name for path in tmp_path.iterdir())
    for name in written:
        for node in ast.walk(ast.parse((tmp_path / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and f"{node.module}.py" in written, (name, ast.unparse(node))


def _package(root, modeling_text: str, extra: dict[str, str] | None = None):
    files = {
        "configuration/__init__.py": "from .config import Config\n",
        "configuration/config.py": "Config = 1\n",
        "modeling/__init__.py": "",
        "modeling/heads.py": modeling_text,
        **(extra or {}),
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.mark.parametrize(
    "line, words",
    [
        ("from .. import __version__", "heads.py:2: `from .. import __version__` cannot be shipped"),
        ("from ...other import thing", "heads.py:2: `from ...other import thing`"),
        ("import variformer.modeling.norms", "heads.py:2: `import variformer.modeling.norms`"),
        ("from variformer.configuration import Config", "heads.py:2: `from variformer.configuration import Config`"),
    ],
)
def test_imports_a_flat_folder_cannot_resolve_are_refused_with_the_place(tmp_path, line, words):
    package = _package(tmp_path / "src", f"from ..configuration import Config\n{line}\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(RemoteCodeError, match="import a sibling module") as caught:
        stage_flat_source(tmp_path / "out", package_dir=package)
    assert words in str(caught.value)


def test_two_modules_with_one_name_are_refused(tmp_path):
    package = _package(tmp_path / "src", "X = 1\n", extra={"modeling/config.py": "Y = 2\n"})
    (tmp_path / "out").mkdir()
    with pytest.raises(RemoteCodeError, match=r"modeling/config\.py: a second module named config\.py"):
        stage_flat_source(tmp_path / "out", package_dir=package)
