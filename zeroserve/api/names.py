"""Kubernetes name rules with apimachinery's messages (``k8s.io/apimachinery/pkg/util/validation``).

Each ``is_*`` returns the list of problems (empty when valid), worded as Kubernetes words them,
because Knative embeds those lists in its own messages (``not a DNS 1035 label: [...]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"

LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery ``RegexError`` (including its double space between examples)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"


def is_http_header_name(value: str) -> list[str]:
    """``IsHTTPHeaderName``: Go's net/http definition of a header field name (stricter than RFC 7230)."""
    if re.fullmatch(HTTP_HEADER_NAME_FMT, value):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'", HTTP_HEADER_NAME_FMT, "X-Header-Name"
        )
    ]


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def go_list(items: Sequence[str]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(items) + "]"


def is_dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(LABEL_MAX)] if len(value) > LABEL_MAX else []
    if re.fullmatch(DNS1035_LABEL_FMT, value) is None:
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = [max_len_error(LABEL_MAX)] if len(value) > LABEL_MAX else []
    if re.fullmatch(DNS1123_LABEL_FMT, value) is None:
        errs.append(
            regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                "start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(SUBDOMAIN_MAX)] if len(value) > SUBDOMAIN_MAX else []
    if re.fullmatch(DNS1123_SUBDOMAIN_FMT, value) is None:
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_qualified_name(value: str) -> list[str]:
    """``[prefix/]name`` as label keys and Knative's traffic revisionName/configurationName."""
    parts = value.split("/")
    if len(parts) == 1:
        prefix, name = "", parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
    else:
        return [
            regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs = [f"prefix part {m}" for m in is_dns1123_subdomain(prefix)] if prefix else []
    if not name:
        return [*errs, "name part must be non-empty"]
    if len(name) > LABEL_MAX:
        errs.append("name part " + max_len_error(LABEL_MAX))
    if re.fullmatch(QUALIFIED_NAME_FMT, name) is None:
        errs.append(
            "name part "
            + regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errs


def mask_trailing_dash(name: str) -> str:
    """generateName may end in '-': validate it as if the suffix were already appended."""
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(mask_trailing_dash(name) if prefix else name)


def name_is_dns1123_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(mask_trailing_dash(name) if prefix else name)
