"""The basic-auth hash: what `openssl passwd -apr1` computes, and stable for a given salt."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.render.htpasswd import apr1, htpasswd_line

SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@given(
    password=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    salt=st.text(alphabet=SALT_CHARS, min_size=8, max_size=8),
)
@settings(max_examples=25, deadline=None)
def test_apr1_matches_openssl(password: str, salt: str) -> None:
    expected = subprocess.run(
        ["openssl", "passwd", "-apr1", "-salt", salt, "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert apr1(password, salt) == expected


def test_the_same_password_and_salt_give_the_same_line() -> None:
    assert htpasswd_line("llmstack", "pw", "saltsalt") == htpasswd_line("llmstack", "pw", "saltsalt")
    assert htpasswd_line("llmstack", "pw", "saltsalt") != htpasswd_line("llmstack", "pw", "saltsal2")


@pytest.mark.parametrize(("user", "salt"), [("a:b", "saltsalt"), ("ok", ""), ("ok", "bad salt")])
def test_bad_user_or_salt_is_refused(user: str, salt: str) -> None:
    with pytest.raises(ValueError, match=r"user|salt"):
        htpasswd_line(user, "pw", salt)
