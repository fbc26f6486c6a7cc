"""Wheels and sdists made by the real build backends, at test time, from one small project.

The hand-made archives in dists.py show what the upload refuses; these show what it must keep
accepting. Every backend writes its archives its own way (CPython's zipfile or the Rust `zip`
crate, pax or GNU tar records, directory entries or none, links kept or followed), and a strict
validator that refuses any of them refuses a real project. So the project below holds what
pushes writers off their plain path: a nested package, a path too long for a ustar header, a
non-ASCII name, an empty file, an executable script, a symlink and a hard link, and files in
`*.data/`. Each backend's PEP 517 hooks run in a subprocess without isolation (the backends are
in the `dev` extra) and without network: maturin's Rust crate has no dependencies, and cargo
is told to stay offline.
"""

import os
import shutil
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import build
import pyproject_hooks
import pytest
from twine.package import PackageFile
from twine.repository import Repository

from tests.publishing.upload.dists import Dist

KINDS = ("wheel", "sdist")
MODULE = "realpkg"
# Five levels of about fifty bytes: past ustar's 100-byte name field and its 155-byte prefix,
# so every tar writer needs a pax `path` or a GNU `L` record, in the wheel and the sdist alike.
LONG_PACKAGE = "/".join(f"level_{n}_of_a_package_nested_deep_with_long_names" for n in range(5))
LONG_MODULE = f"{LONG_PACKAGE}/module_at_the_bottom.py"
NON_ASCII_DATA = "données.txt"
EMPTY_DATA = "empty.txt"
SCRIPT = "realpkg-tool"

_PACKAGE_FILES = {
    "__init__.py": "VALUE = 1\n",
    "sub/__init__.py": "",
    "sub/inner/__init__.py": "INNER = 2\n",
    LONG_MODULE: "DEEP = 3\n",
    NON_ASCII_DATA: "du texte\n",
    EMPTY_DATA: "",
    "target.txt": "the target of a symlink and of a hard link\n",
}

_CARGO_TOML = """\
[package]
name = "realpkg-maturin"
version = "1.0.0"
edition = "2021"

[[bin]]
name = "realpkg-bin"
path = "rust/main.rs"
"""


@dataclass(frozen=True)
class Backend:
    """One build backend: the pyproject.toml that selects it and what else its project needs."""

    project: str
    pyproject: str
    files: dict[str, str] = field(default_factory=dict)
    config_settings: dict[str, str] = field(default_factory=dict)
    tool: str | None = None


def _pyproject(project: str, requires: str, backend: str, tool_tables: str) -> str:
    return (
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "{project}"\nversion = "1.0"\n'
        'description = "A small project built by a real backend."\nreadme = "README.md"\n\n'
        + tool_tables
    )


BACKENDS = {
    "setuptools": Backend(
        project="realpkg-setuptools",
        pyproject=_pyproject(
            "realpkg-setuptools",
            "setuptools",
            "setuptools.build_meta",
            f'[tool.setuptools]\nscript-files = ["scripts/{SCRIPT}"]\n\n'
            '[tool.setuptools.package-data]\n"*" = ["*.txt"]\n',
        ),
    ),
    "hatchling": Backend(
        project="realpkg-hatchling",
        pyproject=_pyproject(
            "realpkg-hatchling",
            "hatchling",
            "hatchling.build",
            f'[tool.hatch.build.targets.wheel]\npackages = ["src/{MODULE}"]\n\n'
            "[tool.hatch.build.targets.wheel.shared-scripts]\n"
            f'"scripts/{SCRIPT}" = "{SCRIPT}"\n',
        ),
    ),
    # flit-core has no scripts directory; its external data lands in `*.data/data/`.
    "flit-core": Backend(
        project="realpkg-flit",
        pyproject=_pyproject(
            "realpkg-flit",
            "flit_core",
            "flit_core.buildapi",
            f'[tool.flit.module]\nname = "{MODULE}"\n\n'
            '[tool.flit.external-data]\ndirectory = "data"\n',
        ),
        files={"data/share/realpkg/notes.txt": "installed under the prefix\n"},
    ),
    "poetry-core": Backend(
        project="realpkg-poetry",
        pyproject=_pyproject(
            "realpkg-poetry",
            "poetry-core",
            "poetry.core.masonry.api",
            f'[tool.poetry]\npackages = [{{include = "{MODULE}", from = "src"}}]\n\n'
            "[tool.poetry.scripts]\n"
            f'{SCRIPT} = {{reference = "scripts/{SCRIPT}", type = "file"}}\n',
        ),
    ),
    "uv_build": Backend(
        project="realpkg-uv",
        pyproject=_pyproject(
            "realpkg-uv",
            "uv_build",
            "uv_build",
            f'[tool.uv.build-backend]\nmodule-name = "{MODULE}"\n\n'
            '[tool.uv.build-backend.data]\nscripts = "scripts"\n',
        ),
    ),
    # A Rust binary ("bin" bindings) lands in `*.data/scripts/` beside the Python package.
    # `--compatibility pypi` gives the manylinux tag the upload accepts, not maturin's PEP 517
    # default of the plain `linux` tag.
    "maturin": Backend(
        project="realpkg-maturin",
        pyproject=_pyproject(
            "realpkg-maturin",
            "maturin",
            "maturin",
            f'[tool.maturin]\nbindings = "bin"\npython-source = "src"\nmodule-name = "{MODULE}"\n',
        ),
        files={
            "Cargo.toml": _CARGO_TOML,
            "rust/main.rs": 'fn main() {\n    println!("realpkg");\n}\n',
        },
        config_settings={"build-args": "--compatibility pypi"},
        tool="cargo",
    ),
}


def write_project(root: Path, backend: Backend) -> None:
    """Write the shared package, `backend`'s pyproject.toml and extra files under `root`."""
    package = root / "src" / MODULE
    for relative, text in {
        "pyproject.toml": backend.pyproject,
        "README.md": "A small project built by a real backend.\n",
        **backend.files,
    }.items():
        _write(root / relative, text)
    for relative, text in _PACKAGE_FILES.items():
        _write(package / relative, text)
    # setuptools finds packages by their __init__.py.
    for depth in range(1, len(LONG_PACKAGE.split("/")) + 1):
        _write(package / "/".join(LONG_PACKAGE.split("/")[:depth]) / "__init__.py", "")
    (package / "symlinked.txt").symlink_to("target.txt")
    (package / "hardlinked.txt").hardlink_to(package / "target.txt")
    script = root / "scripts" / SCRIPT
    _write(script, "#!/bin/sh\necho realpkg\n")
    script.chmod(0o755)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class RealBuilds:
    """Each backend's wheel and sdist, built on first request into `base` and kept for the run."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._built: dict[tuple[str, str], Path] = {}

    def path(self, backend: str, kind: str) -> Path:
        """The `kind` ("wheel" or "sdist") that `backend` builds from the test project."""
        if (backend, kind) not in self._built:
            self._built[backend, kind] = self._build(backend, kind)
        return self._built[backend, kind]

    def _build(self, name: str, kind: str) -> Path:
        backend = BACKENDS[name]
        if backend.tool is not None and shutil.which(backend.tool) is None:
            # Under CI=true tests/conftest.py turns this skip into a failure.
            pytest.skip(
                f"{name} needs {backend.tool} on PATH to build the test project; install the "
                "Rust toolchain (cargo) to run this test."
            )
        source = self._base / name / "source"
        if not source.exists():
            write_project(source, backend)
        builder = build.ProjectBuilder(source, runner=self._run_hook)
        missing = builder.check_dependencies(kind)
        if missing:
            pytest.fail(
                f"{name} cannot build a {kind}: {sorted(map(str, missing))} not installed. "
                "Install the dev extra (make venv)."
            )
        try:
            built = builder.build(kind, self._base / name / "dist", backend.config_settings)
        except build.BuildBackendException as exc:
            output = getattr(exc.exception, "output", b"") or b""
            pytest.fail(
                f"{name} failed to build a {kind}: {exc}\n{output.decode(errors='replace')}"
            )
        return Path(built)

    def _run_hook(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        """Run one backend hook quietly; its output is on the error if it fails."""
        # The hook's subprocess may not have the virtualenv's bin on PATH, where uv_build and
        # maturin find their executables.
        environment = {
            **(extra_environ or {}),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "CARGO_NET_OFFLINE": "true",
            "CARGO_TARGET_DIR": str(self._base / "cargo-target"),
        }
        pyproject_hooks.quiet_subprocess_runner(cmd, cwd=cwd, extra_environ=environment)


def twine_upload(path: Path) -> tuple[Dist, dict[str, list[str]]]:
    """The file at `path` and the form fields twine sends for it, read from its own metadata."""
    package = PackageFile.from_filename(str(path), comment=None)
    metadata = package.metadata_dictionary()
    fields: dict[str, list[str]] = defaultdict(list)
    # The conversion twine's own upload applies (lists repeated, project URLs joined), a
    # static method of its Repository.
    for key, value in Repository._convert_metadata_to_list_of_tuples(metadata):
        fields[key].append(value)
    fields[":action"] = ["file_upload"]
    fields["protocol_version"] = ["1"]
    dist = Dist(
        filename=path.name,
        content=path.read_bytes(),
        name=metadata["name"],
        version=metadata["version"],
        filetype=metadata["filetype"],
        pyversion=metadata["pyversion"],
    )
    return dist, dict(fields)
