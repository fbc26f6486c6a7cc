"""Caveats: the conditions a token carries, each a JSON array `[tag, ...fields]`.

The wire format follows PyPI's: `json.dumps([tag, *fields], separators=(",", ":"))`. Tags are
integers and never reused. Parsing (with the site's one JSON parser, `index_site.json_body`)
fails closed: an unknown tag, malformed JSON, NaN, deep nesting, a wrong type (a bool or a string
where an integer belongs, an integer where a string belongs), too few or too many values each
give a short reason and the token is refused.

Project caveats (`ProjectName`, `ProjectID`) cannot be decided when a request is authenticated,
because the project is only known once the upload form is read; verification collects them as
constraints that `UploadIdentity.may_upload_to` checks later, without a second HMAC pass.
"""

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from index_site.json_body import JSONBodyError, parse_json
from tokens.exceptions import CaveatError

# A caveat is a short JSON array; anything longer is refused before it is parsed.
MAX_CAVEAT_BYTES = 4096
MAX_LIST_ITEMS = 256
MAX_INT = 2**63 - 1


def _strict_int(value: Any) -> int:
    # bool is a subclass of int: `true` must not pass for a timestamp.
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise CaveatError("caveat has invalid values for fields")
    return value


def _strict_str(value: Any) -> str:
    if type(value) is not str or not value or len(value) > 255:
        raise CaveatError("caveat has invalid values for fields")
    return value


def _strict_str_list(value: Any) -> tuple[str, ...]:
    if type(value) is not list or len(value) > MAX_LIST_ITEMS:
        raise CaveatError("caveat has invalid values for fields")
    return tuple(_strict_str(item) for item in value)


def _network_list(value: Any) -> tuple[str, ...]:
    networks = _strict_str_list(value)
    if not networks:
        raise CaveatError("caveat has invalid values for fields")
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise CaveatError("caveat has invalid values for fields") from exc
    return networks


@dataclass(frozen=True)
class VerificationContext:
    """What caveats are checked against: the time, the token's row and the client's address."""

    now: int
    user_id: int | None
    publisher_id: int | None
    client_ip: str


@dataclass
class ProjectConstraints:
    """Project caveats collected at verification: every one of them must admit the project."""

    name_sets: list[frozenset[str]] = field(default_factory=list)
    id_sets: list[frozenset[str]] = field(default_factory=list)

    @property
    def is_scoped(self) -> bool:
        return bool(self.name_sets or self.id_sets)

    def admits(self, *, normalized_name: str, project_id: int) -> bool:
        return all(normalized_name in names for names in self.name_sets) and all(
            str(project_id) in ids for ids in self.id_sets
        )


class Caveat:
    """A caveat type. Subclasses are frozen dataclasses whose fields are the wire values."""

    tag: ClassVar[int]
    parsers: ClassVar[tuple]

    def to_list(self) -> list[Any]:
        raise NotImplementedError

    def serialize(self) -> str:
        return json.dumps(self.to_list(), separators=(",", ":"), allow_nan=False)

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        """Raise CaveatError when the request does not satisfy this caveat."""
        raise NotImplementedError


@dataclass(frozen=True)
class Expiration(Caveat):
    expires_at: int
    not_before: int

    tag: ClassVar[int] = 0
    parsers: ClassVar[tuple] = (_strict_int, _strict_int)

    def to_list(self) -> list[Any]:
        return [self.tag, self.expires_at, self.not_before]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        if context.now >= self.expires_at:
            raise CaveatError("token is expired")
        if context.now < self.not_before:
            raise CaveatError("token is not valid yet")


@dataclass(frozen=True)
class ProjectName(Caveat):
    normalized_names: tuple[str, ...]

    tag: ClassVar[int] = 1
    parsers: ClassVar[tuple] = (_strict_str_list,)

    def to_list(self) -> list[Any]:
        return [self.tag, list(self.normalized_names)]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        projects.name_sets.append(frozenset(self.normalized_names))


@dataclass(frozen=True)
class ProjectID(Caveat):
    project_ids: tuple[str, ...]

    tag: ClassVar[int] = 2
    parsers: ClassVar[tuple] = (_strict_str_list,)

    def to_list(self) -> list[Any]:
        return [self.tag, list(self.project_ids)]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        projects.id_sets.append(frozenset(self.project_ids))


PROJECT_CAVEAT_TAGS = frozenset({ProjectName.tag, ProjectID.tag})


@dataclass(frozen=True)
class RequestUser(Caveat):
    user_id: str

    tag: ClassVar[int] = 3
    parsers: ClassVar[tuple] = (_strict_str,)

    def to_list(self) -> list[Any]:
        return [self.tag, self.user_id]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        if context.user_id is None or str(context.user_id) != self.user_id:
            raise CaveatError("current user does not match user restriction in token")


@dataclass(frozen=True)
class OIDCPublisher(Caveat):
    publisher_id: str

    tag: ClassVar[int] = 4
    parsers: ClassVar[tuple] = (_strict_str,)

    def to_list(self) -> list[Any]:
        return [self.tag, self.publisher_id]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        if context.publisher_id is None or str(context.publisher_id) != self.publisher_id:
            raise CaveatError("token is not valid for this trusted publisher")


@dataclass(frozen=True)
class IPNetworks(Caveat):
    networks: tuple[str, ...]

    tag: ClassVar[int] = 5
    parsers: ClassVar[tuple] = (_network_list,)

    def to_list(self) -> list[Any]:
        return [self.tag, list(self.networks)]

    def verify(self, context: VerificationContext, projects: ProjectConstraints) -> None:
        try:
            address = ipaddress.ip_address(context.client_ip)
        except ValueError as exc:
            raise CaveatError("token is not valid from this IP address") from exc
        if not any(
            address in ipaddress.ip_network(network, strict=False) for network in self.networks
        ):
            # The address as this server saw it (after the trusted proxies): a CI engineer can
            # then tell a wrong range from a proxy or NAT changing the address.
            raise CaveatError(
                f"token is not valid from the IP address this server saw ({address}); "
                "use it from an address in its IP ranges"
            )


CAVEAT_TYPES: dict[int, type[Caveat]] = {
    cls.tag: cls
    for cls in (Expiration, ProjectName, ProjectID, RequestUser, OIDCPublisher, IPNetworks)
}


def deserialize(raw: bytes | str) -> Caveat:
    """Parse one caveat id into its Caveat, or raise CaveatError with a short reason."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_CAVEAT_BYTES:
        raise CaveatError("caveat is too long")
    try:
        value = parse_json(raw)
    except JSONBodyError as exc:
        raise CaveatError("malformed caveat") from exc
    if type(value) is not list or not value:
        raise CaveatError("caveat must be a non-empty array")
    tag, *values = value
    if type(tag) is not int:
        raise CaveatError("caveat has unknown tag")
    caveat_type = CAVEAT_TYPES.get(tag)
    if caveat_type is None:
        raise CaveatError("caveat has unknown tag")
    if len(values) < len(caveat_type.parsers):
        raise CaveatError("caveat has not enough values")
    if len(values) > len(caveat_type.parsers):
        raise CaveatError("caveat has too many values")
    parsed = [parse(item) for parse, item in zip(caveat_type.parsers, values, strict=True)]
    return caveat_type(*parsed)


__all__ = [
    "CAVEAT_TYPES",
    "Caveat",
    "Expiration",
    "IPNetworks",
    "OIDCPublisher",
    "ProjectConstraints",
    "ProjectID",
    "ProjectName",
    "RequestUser",
    "VerificationContext",
    "deserialize",
]
