# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a Secret makes a usable gateway TLS credential, without keeping any of it.

Only the verdict leaves this module: key material is decoded in memory to read
the certificate's validity and dropped. The X.509 reading is the few DER fields
the verdict needs (standard library only: no crypto dependency for a date).
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any, Dict, List, Optional, Tuple

# The key pairs Istio accepts for a gateway credential.
KEY_PAIRS = (("tls.crt", "tls.key"), ("cert", "key"))
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


class _DerError(ValueError):
    pass


def credential_problem(secret: Dict[str, Any], has_data: bool,
                       now: Optional[datetime.datetime] = None) -> Optional[str]:
    """Why the Secret is no usable TLS credential; None when it is, or when its data is not known."""
    if not has_data:
        return None
    values = _values(secret)
    pair = next((p for p in KEY_PAIRS if p[0] in values and p[1] in values), None)
    if pair is None:
        return "has neither tls.crt and tls.key nor cert and key"
    certificate = values[pair[0]]
    if certificate is None:
        return "%s is not valid base64" % pair[0]
    try:
        not_before, not_after = _validity(certificate)
    except _DerError as error:
        return "%s holds no valid certificate (%s)" % (pair[0], error)
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if not_after < now:
        return "%s expired on %s" % (pair[0], not_after.strftime("%Y-%m-%d %H:%M:%S UTC"))
    if now < not_before:
        return "%s is not valid before %s" % (pair[0], not_before.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return None


def _values(secret: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """Key -> decoded text (None when undecodable); stringData wins over data as the API server merges it."""
    values: Dict[str, Optional[str]] = {}
    data = secret.get("data")
    for key, value in (data.items() if isinstance(data, dict) else ()):
        try:
            values[str(key)] = base64.b64decode(str(value or ""), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            values[str(key)] = None
    string_data = secret.get("stringData")
    for key, value in (string_data.items() if isinstance(string_data, dict) else ()):
        values[str(key)] = "" if value is None else str(value)
    return values


def _validity(pem: str) -> Tuple[datetime.datetime, datetime.datetime]:
    start = pem.find(_PEM_BEGIN)
    end = pem.find(_PEM_END, start + 1)
    if start < 0 or end < 0:
        raise _DerError("no PEM certificate block")
    try:
        der = base64.b64decode("".join(pem[start + len(_PEM_BEGIN):end].split()), validate=True)
    except (binascii.Error, ValueError):
        raise _DerError("the PEM block is not base64") from None
    _tag, start, end = _element(der, 0, 0x30)
    _tag, tbs_start, tbs_end = _children(der, start, end)[0]
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # the optional explicit version
        fields = fields[1:]
    if len(fields) < 4:
        raise _DerError("truncated certificate")
    validity = _children(der, fields[3][1], fields[3][2])
    if len(validity) != 2:
        raise _DerError("no validity period")
    return _time(der, validity[0]), _time(der, validity[1])


def _element(der: bytes, offset: int, tag: Optional[int] = None) -> Tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at offset."""
    if offset + 2 > len(der):
        raise _DerError("truncated DER")
    found, length = der[offset], der[offset + 1]
    if tag is not None and found != tag:
        raise _DerError("unexpected DER tag 0x%02x" % found)
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or start + count > len(der):
            raise _DerError("bad DER length")
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    if start + length > len(der):
        raise _DerError("truncated DER")
    return found, start, start + length


def _children(der: bytes, start: int, end: int) -> List[Tuple[int, int, int]]:
    """(tag, content start, content end) of each element inside a constructed element."""
    children = []
    offset = start
    while offset < end:
        child = _element(der, offset)
        children.append(child)
        offset = child[2]
    return children


def _time(der: bytes, element: Tuple[int, int, int]) -> datetime.datetime:
    tag, start, end = element
    text = der[start:end].decode("ascii", "replace")
    try:
        if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ
            return datetime.datetime.strptime(text, "%y%m%d%H%M%SZ")
        if tag == 0x18:  # GeneralizedTime: YYYYMMDDHHMMSSZ
            return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ")
    except ValueError:
        pass
    raise _DerError("unreadable validity date")
