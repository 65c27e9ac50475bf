"""THE key test: a real exchange with signing probabilities; the measured rates must equal an
independent count of the signatures in the delivered packages (pyHanko's reader, not keys).

One run of a tiny scenario (topology ``small``, 40 documents, personal 0.7, agency 0.9, the
year compressed into 25 s) through `run_report`: the hubs assess what they stored; while
the topology still runs, the test fetches every delivered package from its destination hub
as the recipient's DMS and validates each PAdES signature with pyHanko. The same run checks
the report's JSON shape and intervals.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

import edoc
from sim.report.html import render_html
from sim.report.run import DriveLog, report_json, run_report
from sim.report.scenario import load_scenario
from sim.runtime import DataDir, fleet_id_for
from sim.topology import Topology

# The mock CA's certificate policies (keys/_profiles.py), written out here on purpose: the
# count must not borrow the code under test.
_ARC = "2.25.157816027190202210563436164098729907"
PERSON_POLICY = f"{_ARC}.4"
AGENCY_POLICY = f"{_ARC}.3"


def _tiny_scenario(path: Path) -> Path:
    raw = json.loads(
        (Path(__file__).resolve().parents[3] / "sim/scenarios/thanh-hoa-2022.json").read_text()
    )
    raw.update(
        name="tiny",
        title="Tiny scenario (tests)",
        topology="small",
        documents_per_year=40,
        scale=1.0,
        duration_seconds=25,
        pool={"province": 3, "district": 2, "commune": 2},
        external_share=0.1,
        personal_signing_probability=0.7,
        agency_signing_probability=0.9,
        reported={
            "documents": 40,
            "exchange_events": 167,
            "personal_signing_rate": 0.7,
            "agency_signing_rate": 0.9,
        },
    )
    path.write_text(json.dumps(raw, ensure_ascii=False))
    return path


def _role(certificate: asn1_x509.Certificate) -> str | None:
    parsed = x509.load_der_x509_certificate(certificate.dump())
    try:
        policies = parsed.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return None
    oids = {p.policy_identifier.dotted_string for p in policies}
    return "personal" if PERSON_POLICY in oids else "agency" if AGENCY_POLICY in oids else None


def count_valid_signatures(
    pdf: bytes, roots: list[asn1_x509.Certificate], intermediates: list[asn1_x509.Certificate]
) -> Counter[str]:
    """Intact, trusted signatures of a PDF by role, validated by pyHanko at their signing time."""
    counts: Counter[str] = Counter()
    for signature in PdfFileReader(io.BytesIO(pdf)).embedded_signatures:
        context = ValidationContext(
            trust_roots=roots,
            other_certs=intermediates,
            moment=signature.self_reported_timestamp,
            allow_fetching=False,
        )
        status = validate_pdf_signature(signature, signer_validation_context=context)
        role = _role(signature.signer_cert)
        if role is not None and status.intact and status.valid and status.trusted:
            counts[role] += 1
    return counts


def _ca_certificates(
    data: DataDir,
) -> tuple[list[asn1_x509.Certificate], list[asn1_x509.Certificate]]:
    roots, intermediates = [], []
    for path in sorted((data.keys_dir / "ca").glob("*.crt.pem")):
        parsed = x509.load_pem_x509_certificate(path.read_bytes())
        certificate = asn1_x509.Certificate.load(parsed.public_bytes(Encoding.DER))
        (roots if parsed.issuer == parsed.subject else intermediates).append(certificate)
    return roots, intermediates


def _delivered(
    data: DataDir, urls: Mapping[str, str], topology: Topology, log: DriveLog
) -> list[bytes]:
    """Every sent document as its recipient's DMS pulls it from the destination hub."""
    hubs = [h.hub_id for h in topology.hubs()]
    tokens: dict[str, str] = {}
    packages = []
    with httpx.Client(timeout=30, trust_env=False) as client:
        for sender, document_id in log.document_ids:
            for hub in hubs:
                trace = client.get(
                    f"{urls[hub]}/api/v1/trace",
                    params={"sender": sender, "document_id": document_id},
                )
                if trace.status_code != 200:
                    continue
                local = [r for r in trace.json()["recipients"] if r["via"] is None]
                if not local:
                    continue
                fleet = fleet_id_for(hub)
                if fleet not in tokens:
                    secret = data.system(fleet).secret
                    tokens[fleet] = client.post(
                        f"{urls[hub]}/api/v1/token",
                        data={"client_id": fleet, "client_secret": secret},
                    ).json()["access_token"]
                response = client.get(
                    f"{urls[hub]}/api/v1/packages/{trace.json()['doc_id']}",
                    headers={"Authorization": f"Bearer {tokens[fleet]}"},
                )
                assert response.status_code == 200, response.text
                packages.append(response.content)
                break
            else:
                raise AssertionError(f"{document_id} was delivered nowhere")
    return packages


def test_measured_rates_equal_an_independent_count(tmp_path: Path) -> None:
    scenario = load_scenario(str(_tiny_scenario(tmp_path / "tiny.json")))
    data = DataDir(tmp_path / "data")
    seen: dict[str, Any] = {}

    def fetch(urls: Mapping[str, str], topology: Topology, log: DriveLog) -> None:
        seen["packages"] = _delivered(data, urls, topology, log)

    result = run_report(scenario, data=data.root, seed=5, before_stop=fetch)
    assert result.settled
    assert result.drive.accepted == 40 and not result.drive.refused

    roots, intermediates = _ca_certificates(data)
    independent: Counter[str] = Counter()
    for package in seen["packages"]:
        parsed = edoc.parse(package)
        assert isinstance(parsed, edoc.DocumentPackage)
        pdf = next(a for a in parsed.attachments if a.name.endswith(".pdf")).decode()
        counts = count_valid_signatures(pdf, roots, intermediates)
        independent["personal"] += min(counts["personal"], 1)
        independent["agency"] += min(counts["agency"], 1)
    assert len(seen["packages"]) == 40

    report = report_json(result)
    measured = report["measured_in_run"]
    assert measured["personal_signing_rate"] == {"successes": independent["personal"], "trials": 40}
    assert measured["agency_signing_rate"] == {"successes": independent["agency"], "trials": 40}
    # The probabilities made a real mix, or the comparison would prove little.
    assert 0 < independent["personal"] < 40

    # The report: reported and measured side by side, rates with Wilson intervals around them.
    assert {"scenario", "run", "reported", "measured", "intervals", "comparison", "series"} <= set(
        report
    )
    for name in ("documents", "exchange_events", "personal_signing_rate", "agency_signing_rate"):
        assert name in report["reported"] and name in report["measured"]
    assert report["measured"]["documents"] == 40
    assert report["measured"]["exchange_events"] >= 40 + 3 * 40  # 01, 03 and 06 for each
    for name in ("personal_signing_rate", "agency_signing_rate"):
        low, high = report["intervals"][name]
        assert 0 <= low <= report["measured"][name] <= high <= 1
    by_name = {item["figure"]: item for item in report["comparison"]}
    assert by_name["personal_signing_rate"]["reported"] == 0.7
    assert set(report["series"]["by_month"]) <= {f"2022-{m:02d}" for m in range(1, 13)}
    # Every document in the daily series; the monthly one keeps the year (a document drafted
    # a second late is already in January of the next simulated year).
    assert sum(d["documents_sent"] for d in report["series"]["by_day"].values()) == 40
    assert 0 < sum(m["documents_sent"] for m in report["series"]["by_month"].values()) <= 40
    page = render_html(report)
    assert page.count("<svg") == 3 and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )
