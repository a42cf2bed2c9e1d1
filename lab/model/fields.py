"""The building blocks every section of the topology shares: names, IPv4
types with messages in the YAML's terms, the strict base model and `about`
(a field's description and seed concept). Apart from lab.model.topology so a
section may live in a module of its own (lab.model.vpn) without an import
cycle."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from lab.model import seeds

NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=32)]
LabName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=12)]


def _v4_address(value: object) -> ipaddress.IPv4Address:
    text = str(value)
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an IPv4 address (e.g. 198.18.0.11)") from None
    if addr.version == 6:
        raise ValueError(f"'{text}' is IPv6: IPv6 is not supported (Azure Stack has no IPv6)")
    return addr  # type: ignore[return-value]


def _v4_network(value: object) -> ipaddress.IPv4Network:
    text = str(value)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not an IPv4 prefix like 100.64.1.0/24 ({exc})") from None
    if net.version == 6:
        raise ValueError(f"'{text}' is IPv6: IPv6 is not supported (Azure Stack has no IPv6)")
    return net  # type: ignore[return-value]


IPv4 = Annotated[
    object, AfterValidator(_v4_address), WithJsonSchema({"type": "string", "format": "ipv4"})
]
IPv4Net = Annotated[
    object,
    AfterValidator(_v4_network),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"}),
]


def about(description: str, seed: str = seeds.RIG, **schema: Any) -> Any:
    """A field's description and seed concept, shared by `lab schema` and
    docs/topology.md; `schema` adds limits a validator enforces (maximum=...)."""
    return Field(description=description, json_schema_extra={"x-seed": seed, **schema})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
