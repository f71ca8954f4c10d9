"""Knative's templates in its ConfigMaps: the values each one sees and the checks made at load.

* ``config-network`` ``domain-template`` executes over ``config.DomainTemplateValues`` (``Name``,
  ``Namespace``, ``Domain``, ``Annotations``, ``Labels``) and ``tag-template`` over
  ``config.TagTemplateValues`` (``Name``, ``Tag``): knative/networking ``pkg/config/config.go``
  (``checkDomainTemplate``: the result must parse as ``https://<result>`` with a host and no path;
  ``checkTagTemplate``: it must execute).
* ``config-defaults`` ``container-name-template`` and ``init-container-name-template`` execute over
  the parent's ``metav1.ObjectMeta``: knative/serving ``pkg/apis/config/defaults.go`` (checked by
  executing over an empty ObjectMeta).

Errors are Knative's (Go's template and ``net/url`` messages); the caller prefixes the section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from zeroserve.config.gotemplate import Struct, Template, TemplateError, Value
from zeroserve.config.gotemplate.values import quote
from zeroserve.errors import ConfigError

DOMAIN_TEMPLATE: Final = "domain-template"
TAG_TEMPLATE: Final = "tag-template"
CONTAINER_TEMPLATE: Final = "container-template"
DEFAULT_DOMAIN_TEMPLATE: Final = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
DEFAULT_TAG_TEMPLATE: Final = "{{.Tag}}-{{.Name}}"


def domain_values(
    name: str,
    namespace: str,
    domain: str,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Struct:
    return Struct(
        "config.DomainTemplateValues",
        {
            "Name": name,
            "Namespace": namespace,
            "Domain": domain,
            "Annotations": dict(annotations or {}),
            "Labels": dict(labels or {}),
        },
    )


def tag_values(name: str, tag: str) -> Struct:
    return Struct("config.TagTemplateValues", {"Name": name, "Tag": tag})


def object_meta_values(
    name: str = "",
    namespace: str = "",
    generate_name: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Struct:
    """The string and map fields of ``metav1.ObjectMeta``, in its declaration order."""
    fields: dict[str, Value] = {
        "Name": name,
        "GenerateName": generate_name,
        "Namespace": namespace,
        "SelfLink": "",
        "UID": "",
        "ResourceVersion": "",
        "Generation": 0,
        "Labels": dict(labels or {}),
        "Annotations": dict(annotations or {}),
        "Finalizers": [],
    }
    return Struct("v1.ObjectMeta", fields)


def parse(name: str, text: str) -> Template:
    """Parse or raise ConfigError with Go's message."""
    try:
        return Template.parse(name, text)
    except TemplateError as e:
        raise ConfigError(str(e)) from None


def render(name: str, text: str, values: Struct) -> str:
    """Parse (cached) and execute; TemplateError with Go's message."""
    return Template.parse(name, text).execute(values)


def check_domain_template(text: str) -> None:
    """``checkDomainTemplate``: execute over foo/bar/baz.com, then the result must be a URL host."""
    try:
        host = parse(DOMAIN_TEMPLATE, text).execute(domain_values("foo", "bar", "baz.com"))
    except TemplateError as e:
        raise ConfigError(str(e)) from None
    hostname, request_uri = url_host("https://" + host)
    if not hostname:
        raise ConfigError("empty hostname")
    if request_uri != "/":
        raise ConfigError(f"domain template has url path: {request_uri}")


def check_tag_template(text: str) -> None:
    """``checkTagTemplate``: it executes over foo/v2."""
    try:
        parse(TAG_TEMPLATE, text).execute(tag_values("foo", "v2"))
    except TemplateError as e:
        raise ConfigError(str(e)) from None


def check_container_template(text: str) -> None:
    """``asTemplate`` + "Check that the templates properly apply to ObjectMeta"."""
    try:
        parse(CONTAINER_TEMPLATE, text).execute(object_meta_values())
    except TemplateError as e:
        raise ConfigError(f"error executing template: {e}") from None


def container_name(text: str, parent: Struct) -> str:
    """``containerNameFromTemplate``: the rendered name, or "" when the template fails (as Knative)."""
    try:
        return Template.parse(CONTAINER_TEMPLATE, text).execute(parent)
    except TemplateError:
        return ""


# ----------------------------------------------------------------------------- net/url

_HOST_ALLOWED: Final = frozenset("!$&'()*+,;=:[]<>\"-._~")
_HEX: Final = "0123456789abcdefABCDEF"


def url_host(raw: str) -> tuple[str, str]:
    """``url.Parse(raw)`` then ``(u.Hostname(), u.RequestURI())``, ConfigError with Go's message
    (``parse "https://a b": invalid character " " in host name``). Only what a template's output
    can meet is modelled: control characters, fragment, query, userinfo, port, host characters."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"parse {quote(raw)}: {message}")

    if any(ord(c) < 0x20 or c == "\x7f" for c in raw):
        raise fail("net/url: invalid control character in URL")
    rest = raw.split("://", 1)[1].split("#", 1)[0]
    force_query = rest.endswith("?") and rest.count("?") == 1
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    colon = host.rfind(":")
    if not host.startswith("[") and colon >= 0 and not _valid_port(host[colon:]):
        raise fail(f"invalid port {quote(host[colon:])} after host")
    i = 0
    while i < len(host):
        c = host[i]
        if c == "%":
            esc = host[i : i + 3]
            if len(esc) < 3 or esc[1] not in _HEX or esc[2] not in _HEX or (int(esc[1], 16) < 8 and esc != "%25"):
                raise fail(f"invalid URL escape {quote(esc)}")
            i += 3
            continue
        if ord(c) < 0x80 and not (c.isalnum() or c in _HOST_ALLOWED):
            raise fail(f"invalid character {quote(c)} in host name")
        i += 1
    hostname = host[:colon] if colon >= 0 and _valid_port(host[colon:]) else host
    if hostname.startswith("[") and hostname.endswith("]"):
        hostname = hostname[1:-1]
    uri = (slash + path) or "/"
    if query or force_query:
        uri += "?" + query
    return hostname, uri


def _valid_port(port: str) -> bool:
    return port == "" or (port.startswith(":") and all("0" <= c <= "9" for c in port[1:]))
