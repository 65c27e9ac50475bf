"""Names and identities shared by the PAdES tests (imported by conftest and the tests)."""

from __future__ import annotations

from dataclasses import dataclass

from keys import Identity

H56 = "000.00.00.H56"
H56_NAME = "UBND tỉnh Thanh Hóa"
H22 = "000.00.00.G22"
H22_NAME = "Văn phòng Chính phủ"
CHAIRMAN = "Nguyễn Văn An"
OTHER_OFFICIAL = "Lê Thị Bình"


@dataclass(frozen=True)
class Signers:
    """The identities the PAdES tests sign with."""

    person: Identity  # Chairman of 000.00.00.H56
    agency: Identity  # 000.00.00.H56 itself
    other_person: Identity  # an official of 000.00.00.G22
    other_agency: Identity  # 000.00.00.G22 itself
    hub: Identity
    foreign_person: Identity  # same profile, issued by an unrelated CA
    foreign_agency: Identity
