"""A PEP 517 build backend for corral_client in the standard library alone.

pip builds a project in an isolated environment holding only what
`requires` lists; with setuptools listed, an offline pip cannot build at
all. This backend needs nothing: a wheel is a zip of the package plus
three metadata files (PEP 427), and an sdist a tarball of these sources.
It builds exactly what corral_client is: pure Python, one package.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

NAME = "corral-client"
DIST = "corral_client"
PACKAGE = "corral_client"
SUMMARY = "corral's Python client: Selenium's Chrome and raw sessions in corral, with a verified cleanup"
HERE = os.path.dirname(os.path.abspath(__file__))
SDIST_FILES = ["pyproject.toml", "build_backend.py", "README.md"]


def _version():
    with open(os.path.join(HERE, PACKAGE, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {_version()}\nSummary: {SUMMARY}\n"
            "License: see corral's repository\nRequires-Python: >=3.8\n"
            "Provides-Extra: selenium\nRequires-Dist: selenium>=4.8; extra == \"selenium\"\n"
            f"Description-Content-Type: text/markdown\n\n{readme}")


def _package_files():
    """(path in the archive, path on disk) of every .py in the package."""
    files = []
    for root, dirs, names in os.walk(os.path.join(HERE, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                disk = os.path.join(root, name)
                files.append((os.path.relpath(disk, HERE).replace(os.sep, "/"), disk))
    return files


def _dist_info():
    return f"{DIST}-{_version()}.dist-info"


def _metadata_files():
    wheel = ("Wheel-Version: 1.0\nGenerator: corral_client build_backend\n"
             "Root-Is-Purelib: true\nTag: py3-none-any\n")
    return {"METADATA": _metadata(), "WHEEL": wheel}


def _write_wheel(wheel_directory, entries):
    """entries: (archive path, bytes); adds the dist-info and RECORD."""
    info = _dist_info()
    entries = list(entries) + [(f"{info}/{name}", text.encode()) for name, text in _metadata_files().items()]
    name = f"{DIST}-{_version()}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in entries:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            wheel.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
        record.append(f"{info}/RECORD,,")
        wheel.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
                       "\n".join(record) + "\n")
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = _dist_info()
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for name, text in _metadata_files().items():
        with open(os.path.join(metadata_directory, info, name), "w", encoding="utf-8") as f:
            f.write(text)
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for path, disk in _package_files():
        with open(disk, "rb") as f:
            entries.append((path, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a .pth that puts this directory on sys.path."""
    return _write_wheel(wheel_directory, [(f"__editable__.{DIST}.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = f"{DIST}-{_version()}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        def add(path, data):
            member = tarfile.TarInfo(f"{base}/{path}")
            member.size, member.mtime, member.mode = len(data), int(time.time()), 0o644
            sdist.addfile(member, io.BytesIO(data))
        add("PKG-INFO", _metadata().encode())
        for path in SDIST_FILES:
            with open(os.path.join(HERE, path), "rb") as f:
                add(path, f.read())
        for path, disk in _package_files():
            with open(disk, "rb") as f:
                add(path, f.read())
    return name
