"""The survey (tests/explain_survey.toml): what people hit, from public issue threads, and what `explain` answers.

Each thread's report is a short reproduction written for the survey (no user's post is copied). `explain` runs
over every one and must still give the recorded answer: the known errors named, or none (it says it does not
recognise the error). The figures are the survey's summary: a change that breaks a recorded answer, or that
makes `explain` confidently wrong on a thread, fails here.
"""

import collections
import tomllib
from pathlib import Path

import pytest

from svd_learn import compat

SURVEY = tomllib.loads((Path(__file__).parent / "explain_survey.toml").read_text(encoding="utf-8"))["thread"]
VERDICTS = {"right", "admitted", "wrong", "unverified"}


@pytest.mark.parametrize("thread", SURVEY, ids=[thread["url"].removeprefix("https://github.com/") for thread in SURVEY])
def test_the_recorded_answer_still_holds(thread, capsys):
    answered = [diagnosis.id for diagnosis in compat.explain(thread["report"])]
    assert sorted(answered) == sorted(thread["expect"]), capsys.readouterr().out


def test_the_survey_is_complete_and_consistent():
    assert len(SURVEY) >= 150
    assert len({thread["url"] for thread in SURVEY}) == len(SURVEY)
    for thread in SURVEY:
        assert thread["url"].startswith("https://github.com/") and thread["cause"] and thread["family"]
        assert thread["verdict"] in VERDICTS
        admitted = not thread["expect"]
        if thread["established"]:  # right: names the cause; admitted: says it does not know
            assert thread["verdict"] in ({"admitted"} if admitted else {"right", "wrong"}), thread["url"]
        else:  # nothing to be right or wrong about
            assert thread["verdict"] == ("admitted" if admitted else "unverified"), thread["url"]


def test_never_confidently_wrong_and_mostly_right():
    established = [thread for thread in SURVEY if thread["established"]]
    verdicts = collections.Counter(thread["verdict"] for thread in established)
    assert verdicts["wrong"] == 0
    assert verdicts["right"] / len(established) >= 0.85
    families = {thread["family"] for thread in SURVEY}
    recurring = {family for family in families if sum(t["family"] == family for t in SURVEY) >= 3}
    for family in recurring:  # every family that recurs has a known error that answers it
        assert any(t["family"] == family and t["verdict"] == "right" for t in SURVEY), family
