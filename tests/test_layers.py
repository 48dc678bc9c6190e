"""The architecture holds: the layers of docs/ARCHITECTURE.md, as the
import-linter contracts in pyproject.toml state them, and every module of
the platform placed in one of them (a module in no layer would escape the
check)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"

# Modules that belong to no layer on purpose: Django's app and migration
# plumbing, which the framework loads itself.
UNLAYERED = ("labelops", "labelops.__init__")
UNLAYERED_SUFFIXES = (".apps", ".migrations", "__init__")


def layered_modules() -> list[str]:
    contracts = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    return [part.strip() for layer in layers for part in layer.split(":")]


def test_the_import_contracts_are_kept():
    assert lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True) == 0, (
        "an import crosses a layer the wrong way: `lint-imports` says which, and docs/ARCHITECTURE.md why")


def test_every_module_of_the_platform_is_in_a_layer():
    prefixes = layered_modules()
    missing = []
    for path in sorted((ROOT / "labelops").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module in UNLAYERED or any(f"{suffix}." in f"{module}." for suffix in UNLAYERED_SUFFIXES):
            continue
        if not any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            missing.append(module)
    assert not missing, f"modules in no layer of [tool.importlinter] (add each where it belongs): {missing}"
