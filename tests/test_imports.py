"""Import hygiene: the library runs without Streamlit, and `import resnet_viz` stays cheap.

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
        "import importlib, os, pkgutil, sys\n"
        "import resnet_viz\n"
        "root, names = resnet_viz.__path__[0], []\n"
        "for m in pkgutil.iter_modules([root], 'resnet_viz.'):\n"
        "    if m.name == 'resnet_viz.ui':\n"
        "        continue\n"
        "    names.append(m.name)\n"
        "    if m.ispkg:  # and the modules of a subpackage: figures/, text/, ...\n"
        "        sub = os.path.join(root, m.name.rsplit('.', 1)[1])\n"
        "        names += [s.name for s in pkgutil.iter_modules([sub], m.name + '.')]\n"
        "names.sort()\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "    assert 'streamlit' not in sys.modules, f'{name} imports streamlit'\n"
        "print(' '.join(names))\n"
    )
    assert "resnet_viz.config" in out.split()
    assert "resnet_viz.devices" in out.split()
    assert "resnet_viz.figures.common" in out.split()


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
