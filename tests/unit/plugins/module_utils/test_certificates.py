# -*- coding: utf-8 -*-
"""Gateway credential verdicts from Secret data (IST0161): keys, parse, validity period."""

from __future__ import annotations

import base64
import datetime

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import certificates

# A self-signed certificate valid from 2026-11-29 (UTCTime) to 2126-11-05 (GeneralizedTime); public, no key.
CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBjjCCATOgAwIBAgIUfx33iGIoqSMZMstAY6qNZ6eooIcwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2hvcC5leGFtcGxlLmNvbTAgFw0yNjExMjkxOTMwMjdaGA8y
MTI2MTEwNTE5MzAyN1owGzEZMBcGA1UEAwwQc2hvcC5leGFtcGxlLmNvbTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFjlM1lZeQGDU5SolfWNAL84LRCtScuhxaf2
AHGOM3V7AofEp7eI3g+G3sNIUlOdxRc8NOHMBmt3lZf2zg742R2jUzBRMB0GA1Ud
DgQWBBSClHS2dVLVS92mwDLYXWXJMoO3gzAfBgNVHSMEGDAWgBSClHS2dVLVS92m
wDLYXWXJMoO3gzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQD0
4fMduNirq/ym6ReFnt/g8fVtQvVd00sYvc1yq/SlTgIhALDIb+t1EAdUI79rGnki
N6trV8igeXVeW439sOKKLg8X
-----END CERTIFICATE-----
"""


def secret(**data: str):
    return {"kind": "Secret", "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


@pytest.mark.parametrize("obj, now, problem", [
    (secret(**{"tls.crt": CERTIFICATE, "tls.key": "k"}), datetime.datetime(2030, 1, 1), None),
    ({"kind": "Secret", "stringData": {"cert": CERTIFICATE, "key": "k"}}, datetime.datetime(2030, 1, 1), None),
    (secret(**{"tls.crt": CERTIFICATE, "tls.key": "k"}), datetime.datetime(2127, 1, 1), "tls.crt expired on 2126-11-05"),
    (secret(**{"tls.crt": CERTIFICATE, "tls.key": "k"}), datetime.datetime(2020, 1, 1), "not valid before 2026-11-29"),
    (secret(**{"tls.crt": "not a certificate", "tls.key": "k"}), None, "no PEM certificate block"),
    (secret(**{"tls.crt": CERTIFICATE.replace("MIIB", "MIIZ"), "tls.key": "k"}), None, "holds no valid certificate"),
    (secret(**{"ca.crt": CERTIFICATE}), None, "has neither tls.crt and tls.key nor cert and key"),
    ({"kind": "Secret", "data": {"tls.crt": "%%%", "tls.key": "eA=="}}, None, "tls.crt is not valid base64"),
])
def test_credential_verdicts(obj, now, problem):
    verdict = certificates.credential_problem(obj, True, now)
    assert verdict == problem if problem is None else problem in verdict


def test_secret_without_data_is_not_judged():
    assert certificates.credential_problem({"kind": "Secret", "metadata": {"name": "cert"}}, False) is None
