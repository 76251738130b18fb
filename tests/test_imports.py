"""Import hygiene: the library runs without Streamlit, and `import resnet_viz` stays cheap (the
layers, cycles and the size of the top level are tests/test_layers.py).

Each check runs in a fresh interpreter, since this test process may already hold both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_library_modules_do_not_import_streamlit():
    out = _run(
        "import importlib, pathlib, sys\n"
        "import resnet_viz\n"
        "root = pathlib.Path(resnet_viz.__path__[0])\n"
        "# every module at every depth (engine/runner/worker.py too), found on disk: importing a\n"
        "# package to list it would import resnet_viz.ui, and with it Streamlit\n"
        "names = ['.'.join(('resnet_viz', *p.relative_to(root).with_suffix('').parts)).removesuffix('.__init__')\n"
        "         for p in root.rglob('*.py') if p.relative_to(root).parts[0] != 'ui']\n"
        "names.sort()\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "    assert 'streamlit' not in sys.modules, f'{name} imports streamlit'\n"
        "print(' '.join(names))\n"
    )
    assert "resnet_viz.engine.config" in out.split()
    assert "resnet_viz.engine.devices" in out.split()
    assert "resnet_viz.figures.common" in out.split()
    assert "resnet_viz.engine.runner.worker" in out.split()  # found at every depth


def test_import_resnet_viz_is_cheap():
    _run(
        "import sys\n"
        "import resnet_viz\n"
        "assert resnet_viz.__version__\n"
        "heavy = sorted({'torch', 'streamlit', 'numpy'} & set(sys.modules))\n"
        "assert not heavy, f'import resnet_viz pulled in {heavy}'\n"
    )


def test_pages_do_no_tensor_work():
    """Pages are thin (widgets -> config -> library -> figures): they import no torch, numpy or PIL."""
    import ast

    heavy = {"torch", "numpy", "PIL", "pandas", "captum", "torchvision"}
    for script in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(script.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & heavy, f"{script.name} imports {sorted(imported & heavy)}"
