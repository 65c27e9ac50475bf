"""Hub-to-hub request signatures: what the receiving hub checks, one failure at a time."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from hubkit import H04, H56, HubData, MovableClock

from keys import KeyAlgorithm, KeyStore
from lgsp.auth import AuthError, HubSigner, HubVerifier, body_digest

BODY = b"<edXML>...</edXML>"
HUBS = frozenset({"ndxp", "lgsp-h56", "lgsp-h04"})


@pytest.fixture
def verifier(hub_data: HubData, hub_clock: MovableClock) -> HubVerifier:
    return HubVerifier(
        trust=hub_data.keystore.trust_store(), clock=hub_clock, known_hubs=HUBS, max_skew=300
    )


def signed(hub_data: HubData, clock: MovableClock, hub_id: str = "ndxp") -> dict[str, str]:
    signer = HubSigner(hub_id=hub_id, identity=hub_data.hub_identity(hub_id))
    return signer.headers(body=BODY, recipients=[H04, H56], now=clock.now())


def refusal(verifier: HubVerifier, headers: dict[str, str]) -> str:
    with pytest.raises(AuthError) as caught:
        verifier.verify_headers(headers)
    assert caught.value.code == "hub_auth_failed"
    assert caught.value.http_status == 401
    return caught.value.message


def test_a_signed_request_verifies(
    verifier: HubVerifier, hub_data: HubData, hub_clock: MovableClock
) -> None:
    headers = signed(hub_data, hub_clock)
    assert headers["X-Lgsp-Digest"] == body_digest(BODY)
    assert json.loads(headers["X-Lgsp-Recipients"]) == [H04, H56]
    assert headers["X-Lgsp-Timestamp"].endswith("Z")
    peer = verifier.verify_headers(headers)
    assert peer.hub_id == "ndxp"
    assert peer.recipients == (H04, H56)
    assert peer.certificate.common_name == "ndxp"
    peer.check_body(BODY)
    with pytest.raises(AuthError, match="does not match the body"):
        peer.check_body(BODY + b" ")
    # The validation is cached by fingerprint: a second request verifies as well.
    assert verifier.verify_headers(signed(hub_data, hub_clock)).hub_id == "ndxp"


def test_each_header_matters(
    verifier: HubVerifier, hub_data: HubData, hub_clock: MovableClock
) -> None:
    good = signed(hub_data, hub_clock)
    for name in good:
        assert name in refusal(verifier, {k: v for k, v in good.items() if k != name})
    changed = {
        "X-Lgsp-Recipients": json.dumps([H04]),
        "X-Lgsp-Digest": body_digest(b"other"),
        "X-Lgsp-Timestamp": good["X-Lgsp-Timestamp"].replace("Z", "+00:00"),
    }
    for name, value in changed.items():
        assert "signature does not match" in refusal(verifier, {**good, name: value})
    assert "not base64" in refusal(verifier, {**good, "X-Lgsp-Signature": "%%%"})
    assert "sha-256" in refusal(verifier, {**good, "X-Lgsp-Digest": "md5=abc"})


def test_the_certificate_must_be_the_claimed_hub_s(
    verifier: HubVerifier, hub_data: HubData, hub_clock: MovableClock
) -> None:
    lgsp = signed(hub_data, hub_clock, "lgsp-h56")
    forged = HubSigner(hub_id="ndxp", identity=hub_data.hub_identity("lgsp-h56")).headers(
        body=BODY, recipients=[H04], now=hub_clock.now()
    )
    assert "belongs to hub 'lgsp-h56', not 'ndxp'" in refusal(verifier, forged)
    assert verifier.verify_headers(lgsp).hub_id == "lgsp-h56"
    unknown = HubSigner(hub_id="lgsp-h99", identity=hub_data.hub_identity("lgsp-h56")).headers(
        body=BODY, recipients=[H04], now=hub_clock.now()
    )
    assert "not a hub of this topology" in refusal(verifier, unknown)


def test_only_hub_certificates_of_our_ca(
    verifier: HubVerifier,
    hub_data: HubData,
    hub_clock: MovableClock,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    agency = HubSigner(hub_id="ndxp", identity=hub_data.agency(H56)).headers(
        body=BODY, recipients=[H04], now=hub_clock.now()
    )
    assert "wrong_certificate_kind" in refusal(verifier, agency)
    foreign = KeyStore(tmp_path_factory.mktemp("other-ca"))
    foreign.init(at=hub_data.at, algorithm=KeyAlgorithm.P256)
    other_ndxp = HubSigner(hub_id="ndxp", identity=foreign.hub("ndxp", at=hub_data.at)).headers(
        body=BODY, recipients=[H04], now=hub_clock.now()
    )
    assert "untrusted_issuer" in refusal(verifier, other_ndxp)
    garbage = {
        **signed(hub_data, hub_clock),
        "X-Lgsp-Certificate": base64.b64encode(b"junk").decode(),
    }
    assert "not a base64 DER certificate" in refusal(verifier, garbage)


def test_timestamps_older_or_newer_than_the_skew_are_refused(
    verifier: HubVerifier, hub_data: HubData, hub_clock: MovableClock
) -> None:
    headers = signed(hub_data, hub_clock)
    hub_clock.advance(seconds=299)
    verifier.verify_headers(headers)
    hub_clock.advance(seconds=2)
    assert "301 s away" in refusal(verifier, headers)
    hub_clock.advance(seconds=-602)
    assert "s away" in refusal(verifier, headers)
    naive = signed(hub_data, hub_clock)
    naive["X-Lgsp-Timestamp"] = naive["X-Lgsp-Timestamp"].removesuffix("Z")
    assert "time zone" in refusal(verifier, naive)


def test_bad_recipients_are_a_bad_request(
    verifier: HubVerifier, hub_data: HubData, hub_clock: MovableClock
) -> None:
    signer = HubSigner(hub_id="ndxp", identity=hub_data.hub_identity("ndxp"))
    headers = signer.headers(body=BODY, recipients=[], now=hub_clock.now())
    with pytest.raises(AuthError) as caught:
        verifier.verify_headers(headers)
    assert caught.value.code == "bad_hub_request"
    assert caught.value.http_status == 400


def test_ecdsa_hub_keys_sign_and_verify(
    hub_clock: MovableClock, hub_data: HubData, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = KeyStore(tmp_path_factory.mktemp("ec-ca"))
    store.init(at=hub_data.at - timedelta(minutes=1), algorithm=KeyAlgorithm.P256)
    verifier = HubVerifier(trust=store.trust_store(), clock=hub_clock, known_hubs=HUBS)
    headers = HubSigner(hub_id="ndxp", identity=store.hub("ndxp", at=hub_data.at)).headers(
        body=BODY, recipients=[H04], now=hub_clock.now()
    )
    assert verifier.verify_headers(headers).hub_id == "ndxp"
