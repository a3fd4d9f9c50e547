"""Shared fixtures: the bundled document, small tables written in code, and a built store."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kg.api import bundled_source

HEADER_JA = ["団体名", "取組名", "活動地域", "R5採択"]
SCRIPTS = Path(__file__).parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """A script of scripts/ imported as a module (scripts are not a package), registered in sys.modules under
    a name of its own (dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(items):
    """A test of the real model is slow too, so `pytest -m "not slow"` (the fast lane) leaves it out."""
    for item in items:
        if item.get_closest_marker("model") is not None:
            item.add_marker(pytest.mark.slow)


def pytest_addoption(parser):
    parser.addoption("--model-cache", default=None, metavar="DIR",
                     help="cache root for the rebuilt embedding model (default: the user cache)")


@pytest.fixture(scope="session")
def document() -> Path:
    return bundled_source()


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """A small list written as a user's spreadsheet would save it."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="session")
def built_store(tmp_path_factory) -> Path:
    """The bundled list built once per session, without embeddings (fast)."""
    from kg import Tsunagari

    store = tmp_path_factory.mktemp("store") / "store"
    Tsunagari.build(None, store, embed=False)
    return store


@pytest.fixture(scope="session")
def real_store(tmp_path_factory) -> Path:
    """The bundled list built with the real model (rebuilt into the user cache once per machine)."""
    from kg import Tsunagari

    store = tmp_path_factory.mktemp("real") / "store"
    Tsunagari.build(None, store, embed=True)
    return store
