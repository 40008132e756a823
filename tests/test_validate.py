"""Truth tables for the Kubernetes syntax checks (docs: "Labels and Selectors" -> syntax and
character set; "Object Names and IDs" -> DNS subdomain / DNS label names)."""

from __future__ import annotations

import pytest

from recommender.validate import (
    canonical_ip,
    ip_family,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
    truncated_repr,
)

NAME63 = "a" + "b" * 61 + "c"
PREFIX253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
assert len(NAME63) == 63 and len(PREFIX253) == 253

LABEL_KEYS = [
    ("app", True),
    ("k8s-app", True),
    ("app.kubernetes.io/name", True),
    ("kubernetes.io/metadata.name", True),
    ("example.com/my_label", True),
    ("sidecar.opentelemetry.io/injected", True),
    ("A", True),
    ("1abc", True),
    ("a_b.c-d", True),
    ("MyLabel", True),
    (NAME63, True),
    (PREFIX253 + "/" + NAME63, True),
    ("", False),
    ("-a", False),
    ("a-", False),
    ("_a", False),
    ("a.", False),
    (".a", False),
    ("a b", False),
    ("a/b/c", False),
    ("/a", False),
    ("a/", False),
    ("Example.com/a", False),  # the prefix is a DNS subdomain: lowercase only
    ("exa_mple.com/a", False),
    (NAME63 + "x", False),
    (PREFIX253 + "x/a", False),
    ("a\n", False),
    ("\na", False),
    ("ü", False),
    ("a=b", False),
    ("a:b", False),
    ("../../etc", False),
    ("{{x}}", False),
    (None, False),
    (1, False),
]

LABEL_VALUES = [
    ("", True),
    ("v1", True),
    ("A", True),
    ("a.b_c-d", True),
    ("bookinfo.otelcol-bookinfo", True),
    ("EnsureExists", True),
    (NAME63, True),
    (NAME63 + "x", False),
    ("-a", False),
    ("a-", False),
    ("a b", False),
    ("a\n", False),
    ('"quoted"', False),
    ("{{ .Values.x }}", False),
    ("a/b", False),
    ("ü", False),
    (None, False),
    (1, False),
]

DNS_LABELS = [
    ("default", True),
    ("kube-system", True),
    ("a", True),
    ("0", True),
    ("a1-b2", True),
    ("a" * 63, True),
    ("a" * 64, False),
    ("", False),
    ("A", False),
    ("Default", False),
    ("a_b", False),
    ("a.b", False),
    ("-a", False),
    ("a-", False),
    ("../../etc", False),
    ("a\n", False),
    (" a", False),
    (None, False),
]

DNS_SUBDOMAINS = [
    ("productpage-v1-6b746f74dc-9rcxx", True),
    ("a.b", True),
    ("coredns-558bd4d5db-w2m67", True),
    ("a" * 253, True),  # Kubernetes bounds the whole name, not each label
    (PREFIX253, True),
    ("a" * 254, False),
    ("", False),
    ("a..b", False),
    (".a", False),
    ("a.", False),
    ("A", False),
    ("a_b", False),
    ("a/b", False),
    ("../../etc", False),
    ("a\n", False),
    (None, False),
]

IPS = [
    ("10.0.0.1", "10.0.0.1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ("::", "::"),
    ("010.0.0.1", None),  # leading zeros are ambiguous (octal): refused
    ("10.0.0.1/24", None),
    ("1.2.3.256", None),
    ("", None),
    (" 10.0.0.1", None),
    ("10.0.0.1\n", None),
    ("fe80::1%eth0", None),
    ("localhost", None),
    (167772161, None),
    (None, None),
]


@pytest.mark.parametrize(("key", "ok"), LABEL_KEYS)
def test_is_label_key(key, ok):
    assert is_label_key(key) is ok


@pytest.mark.parametrize(("value", "ok"), LABEL_VALUES)
def test_is_label_value(value, ok):
    assert is_label_value(value) is ok


@pytest.mark.parametrize(("name", "ok"), DNS_LABELS)
def test_is_dns1123_label(name, ok):
    assert is_dns1123_label(name) is ok


@pytest.mark.parametrize(("name", "ok"), DNS_SUBDOMAINS)
def test_is_dns1123_subdomain(name, ok):
    assert is_dns1123_subdomain(name) is ok


@pytest.mark.parametrize(("text", "canonical"), IPS)
def test_canonical_ip(text, canonical):
    assert canonical_ip(text) == canonical


def test_ip_family():
    assert ip_family("10.0.0.1") == 4
    assert ip_family("2001:db8::1") == 6


def test_truncated_repr():
    assert truncated_repr("a\nb") == "'a\\nb'"
    long = truncated_repr("x" * 10_000)
    assert len(long) == 80 and long.endswith("...")
    assert truncated_repr({"k": 1}) == "{'k': 1}"
