"""Behaviour profiles: the shipped presets, files, errors, and the plans they make."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

import edoc
from agencies import Profile, ProfileError, load_profile, parse_profile, preset_names
from agencies.profile import Processing, StatusStep
from edoc import StatusCode
from lgsp.stats.assessor import due_moment
from simtime import VIETNAM_TZ

AT = dt.datetime(2025, 3, 3, 9, 0, tzinfo=VIETNAM_TZ)


def _plan(profile: Profile, **kwargs: object) -> list[tuple[float, StatusCode]]:
    fields: dict[str, object] = {
        "rng": random.Random(1),
        "received_at": AT,
        "due_date": None,
        "verified": True,
    }
    fields.update(kwargs)
    return profile.plan(**fields)  # type: ignore[arg-type]


def test_the_demo_preset_answers_every_status_within_about_a_second() -> None:
    profile = load_profile("demo")

    plan = _plan(profile)

    assert profile.poll_interval == 0.2
    assert [code.value for _, code in plan] == ["01", "03", "04", "05", "06"]
    assert [round(offset, 3) for offset, _ in plan] == [0.0, 0.2, 0.4, 0.6, 1.1]
    assert load_profile() == profile
    assert Profile() == profile.model_copy(update={"name": "custom", "description": ""})


def test_the_realistic_preset_draws_completion_against_the_due_date() -> None:
    profile = load_profile("realistic")
    due = (AT + dt.timedelta(days=10)).date()

    plans = [_plan(profile, rng=random.Random(seed), due_date=due) for seed in range(300)]
    completions = [p[-1][0] / 86_400 for p in plans if p[-1][1] is StatusCode.COMPLETED]

    assert set(preset_names()) == {"demo", "realistic"}
    assert profile.processing is not None and profile.rejection_rate > 0
    # Triangular over 0.2 .. 1.3 of the ~10.6 days left until the end of the due date.
    assert min(completions) > 2.0 and max(completions) < 14.0
    assert sum(c > 10.625 for c in completions) > 10  # some documents finish late
    assert 0 < len(plans) - len(completions) < 20  # about 2% rejected


def test_processing_never_puts_the_last_step_before_the_previous_one() -> None:
    profile = Profile(processing=Processing(distribution="fixed", mode=0.01, seconds_per_day=1))

    plan = _plan(profile, due_date=AT.date())

    offsets = [offset for offset, _ in plan]
    assert offsets == sorted(offsets)
    assert plan[-1][1] is StatusCode.COMPLETED


def test_rejections_answer_01_then_02() -> None:
    profile = Profile(rejection_rate=1.0, rejection_delay=0.3)

    assert _plan(profile) == [(0.0, StatusCode.ARRIVED), (0.3, StatusCode.REJECTED)]


def test_an_unverified_envelope_is_rejected_at_once() -> None:
    assert _plan(Profile(), verified=False) == [(0.0, StatusCode.REJECTED)]
    assert len(_plan(Profile(reject_unverified=False), verified=False)) == 5


def test_a_profile_file_is_loaded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "slow.json"
    path.write_text(
        json.dumps(
            {
                "name": "slow",
                "poll_interval": 1,
                "steps": [{"code": "1"}, {"code": "06", "after": 3, "jitter": 0.5}],
                "seed": 3,
            }
        )
    )

    profile = load_profile(path)

    assert profile.name == "slow"
    assert [s.code for s in profile.steps] == [StatusCode.ARRIVED, StatusCode.COMPLETED]
    assert _plan(profile, rng=profile.rng()) == _plan(profile, rng=profile.rng())


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[]", "a JSON object"),
        ("{", "not JSON"),
        ('{"poll_interval": 0}', "poll_interval"),
        ('{"steps": [{"code": "02"}]}', "cannot be a step"),
        ('{"steps": [{"code": "99"}]}', "not a status code"),
        ('{"rejection_rate": 2}', "rejection_rate"),
        ('{"pol_interval": 1}', "pol_interval"),
    ],
)
def test_bad_profiles_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)

    assert caught.value.code == "bad_profile"
    assert fragment in caught.value.message


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "missing.json")

    assert caught.value.code == "unknown_profile"


@pytest.mark.parametrize(
    "received_at",
    [
        AT,
        dt.datetime(2022, 3, 3, 23, 59, tzinfo=VIETNAM_TZ),
        dt.datetime(2022, 3, 3, 0, 1, tzinfo=VIETNAM_TZ),
        dt.datetime(2022, 3, 3, 17, 30, tzinfo=dt.UTC),  # 00:30 on 4 March in Vietnam
    ],
)
def test_completion_at_the_full_window_ends_exactly_where_the_hub_judges_on_time(
    received_at: dt.datetime,
) -> None:
    # The fleet draws completion against the end of the DueDate; the hub's statistics judge
    # "on time" against the same instant: no day or time-zone offset between the two.
    due = edoc.vietnam_date(received_at) + dt.timedelta(days=3)
    on_time = due_moment(due)
    assert on_time is not None
    for fraction, expected in ((1.0, True), (0.999, True), (1.001, False)):
        profile = Profile(
            steps=(StatusStep(code=StatusCode.ARRIVED), StatusStep(code=StatusCode.COMPLETED)),
            processing=Processing(distribution="fixed", mode=fraction),
        )
        offset, code = _plan(profile, received_at=received_at, due_date=due)[-1]
        completed = received_at + dt.timedelta(seconds=offset)
        assert code is StatusCode.COMPLETED
        assert (completed <= on_time) is expected
    assert received_at + dt.timedelta(days=3) < on_time <= received_at + dt.timedelta(days=4)
