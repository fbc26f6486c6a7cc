"""Build small, valid wheels and sdists by hand (zipfile/tarfile), and the upload form for them."""

import base64
import hashlib
import io
import tarfile
import time
import zipfile
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name


@dataclass
class Dist:
    filename: str
    content: bytes
    name: str
    version: str
    filetype: str
    pyversion: str
    metadata_fields: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def blake2_256(self) -> str:
        return hashlib.blake2b(self.content, digest_size=32).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.content, usedforsecurity=False).hexdigest()

    def form(self, **overrides) -> dict:
        """The fields twine sends for this file (without `content`)."""
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.1",
            "name": self.name,
            "version": self.version,
            "summary": "A sample package.",
            "filetype": self.filetype,
            "pyversion": self.pyversion,
            "sha256_digest": self.sha256,
            "blake2_256_digest": self.blake2_256,
            **self.metadata_fields,
        }
        fields.update(overrides)
        return {key: value for key, value in fields.items() if value is not None}


def core_metadata(name: str, version: str, *, requires_dist=(), extra_headers=()) -> bytes:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: A sample package.",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires_dist]
    lines += list(extra_headers)
    return ("\n".join(lines) + "\n\n").encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    name: str = "sample-pkg",
    version: str = "1.0",
    *,
    tag: str = "py3-none-any",
    filename: str | None = None,
    payload: bytes = b"VALUE = 1\n",
    omit: tuple[str, ...] = (),
    metadata: bytes | None = None,
    requires_dist: tuple[str, ...] = (),
    extra_members: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Dist:
    """A wheel with METADATA, WHEEL and RECORD (minus the members named in `omit`)."""
    stem = canonicalize_name(name).replace("-", "_")
    dist_info = f"{stem}-{version}.dist-info"
    members: dict[str, bytes] = {f"{stem}/__init__.py": payload}
    members[f"{dist_info}/METADATA"] = metadata or core_metadata(
        name, version, requires_dist=requires_dist
    )
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: gatehouse-tests\nRoot-Is-Purelib: true\n"
        + f"Tag: {tag}\n".encode()
    )
    members.update(extra_members or {})
    record = [_record_line(path, data) for path, data in members.items()]
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for path, data in members.items():
            if path.rsplit("/", 1)[-1] in omit:
                continue
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    python_tag = tag.split("-", maxsplit=1)[0]
    metadata_fields = {"requires_dist": list(requires_dist)} if requires_dist else {}
    return Dist(
        filename=filename or f"{stem}-{version}-{tag}.whl",
        content=buffer.getvalue(),
        name=name,
        version=version,
        filetype="bdist_wheel",
        pyversion=python_tag,
        metadata_fields=metadata_fields,
    )


def make_sdist(
    name: str = "sample-pkg",
    version: str = "1.0",
    *,
    filename: str | None = None,
    members: dict[str, bytes] | None = None,
) -> Dist:
    """A `.tar.gz` sdist with `{name}-{version}/PKG-INFO` (or exactly `members` if given)."""
    stem = canonicalize_name(name).replace("-", "_")
    top = f"{stem}-{version}"
    if members is None:
        members = {
            f"{top}/PKG-INFO": core_metadata(name, version),
            f"{top}/pyproject.toml": b"[project]\nname = 'x'\n",
            f"{top}/{stem}/__init__.py": b"VALUE = 1\n",
        }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return Dist(
        filename=filename or f"{top}.tar.gz",
        content=buffer.getvalue(),
        name=name,
        version=version,
        filetype="sdist",
        pyversion="source",
    )


def multipart_body(fields: dict, *, filename: str, content: bytes, content_type: str | None):
    """Encode a form by hand, so a test can send a filename no client library would send."""
    boundary = "gatehouse-test-boundary"
    parts = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
                + str(item).encode()
                + b"\r\n"
            )
    header = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
    )
    if content_type is not None:
        header += f"Content-Type: {content_type}\r\n"
    parts.append(header.encode() + b"\r\n" + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
