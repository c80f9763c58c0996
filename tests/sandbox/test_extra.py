"""The sandbox's dependencies stay its own: the tap, the target and the client install without
the `sandbox` extra (as Meltano installs them) and never import the sandbox, and
`pipedrive-sandbox` without the extra says so in one line. (orjson, the extra's one module, is
also a dependency of the plugins since the tap writes its RECORD lines with it.)"""

import ast
import subprocess
import sys
from pathlib import Path

import pipedrive_sandbox

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ("tap_pipedrive", "target_pipedrive", "pipedrive_client")
RUNTIME = {"orjson"}  # pyproject.toml's dependencies (tap_pipedrive/fast_writer.py)
SANDBOX_ONLY = ("pipedrive_sandbox", *sorted(pipedrive_sandbox.EXTRA_MODULES - RUNTIME))


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_plugins_and_the_client_import_neither_the_sandbox_nor_its_extra() -> None:
    code = f"""
import importlib, pkgutil, sys
for name in {PLUGINS!r}:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
print(sorted(m for m in sys.modules if m.split(".")[0] in {SANDBOX_ONLY!r}))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_plugin_source_imports_them_even_lazily() -> None:
    found = []
    for package in PLUGINS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                    for name in names
                    if name.split(".")[0] in SANDBOX_ONLY
                ]
    assert found == []


def test_the_sandbox_without_its_extra_says_so_in_one_line() -> None:
    # None in sys.modules makes `import orjson` fail as if it were not installed.
    done = _python(
        "import sys; sys.modules['orjson'] = None\n"
        "from pipedrive_sandbox.cli import main\n"
        "sys.exit(main(['--port', '0']))"
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == pipedrive_sandbox.NEEDS_EXTRA + "\n"
    assert "pip install 'pipedrive-connectors[sandbox]'" in done.stderr


def test_importing_the_sandbox_without_its_extra_names_the_extra() -> None:
    done = _python(
        "import sys; sys.modules['orjson'] = None\nfrom pipedrive_sandbox import Sandbox"
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"ModuleNotFoundError: {pipedrive_sandbox.NEEDS_EXTRA}"
    )
