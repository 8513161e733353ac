"""Parsing raw mail: bad mail degrades to data with flags, never to an exception."""

from datetime import timezone

import pytest

from classifier.parse.message import MAX_BODY_CHARS, html_to_text, normalise_address, parse_bytes, parse_date

PLAIN = (b"From: Ana Lopes <Ana.Lopes@Example.com>\r\nTo: maya@okafor-letters.example\r\n"
         b"Subject: coffee?\r\nDate: Tue, 03 Mar 2026 10:02:00 +0100\r\nMessage-ID: <a1@example.com>\r\n\r\n"
         b"Could you look over my draft this week?\r\n")


def test_a_plain_message_is_read_field_by_field():
    m = parse_bytes(PLAIN, origin="x#0")
    assert m.id == "<a1@example.com>"
    assert m.sender == "ana.lopes@example.com" and m.sender_name == "Ana Lopes"
    assert m.to == ["maya@okafor-letters.example"]
    assert m.subject == "coffee?"
    assert m.date.utcoffset() is not None and m.date.astimezone(timezone.utc).hour == 9
    assert m.text.strip() == "Could you look over my draft this week?"
    assert m.flags == []


def test_html_only_body_becomes_text_and_scripts_are_dropped():
    raw = (b"From: pr@agency.example\r\nSubject: launch\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><head><style>p{}</style></head><body><p>Cover our <b>launch</b>?</p>"
           b"<script>alert('x')</script></body></html>")
    m = parse_bytes(raw)
    assert "html_only" in m.flags
    assert "Cover our" in m.text and "launch" in m.text
    assert "alert" not in m.text and "<" not in m.text


def test_unknown_charset_decodes_with_replacement():
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xe9 tomorrow?"
    m = parse_bytes(raw)
    assert "unknown_charset" in m.flags
    assert m.text.startswith("caf") and "tomorrow?" in m.text


def test_nul_bytes_are_removed_and_flagged():
    m = parse_bytes(b"From: a@example.com\r\n\r\nhel\x00lo")
    assert "nul_bytes" in m.flags and m.text == "hello"


def test_a_bad_from_header_is_flagged_and_the_sender_unknown():
    m = parse_bytes(b"From: not an address at all\r\nSubject: hi\r\n\r\nbody")
    assert m.sender is None and "bad_address" in m.flags
    assert m.text == "body"


def test_attachments_are_skipped():
    raw = (b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n")
    m = parse_bytes(raw)
    assert m.text.strip() == "see attached" and "attachments_skipped" in m.flags


def test_truncated_multipart_still_gives_the_text_it_has():
    raw = (b"From: a@example.com\r\nContent-Type: multipart/alternative; boundary=QQ\r\n\r\n"
           b"--QQ\r\nContent-Type: text/plain\r\n\r\nplease sponsor my run\r\n--QQ\r\nContent-Type: text/ht")
    m = parse_bytes(raw)
    assert "please sponsor my run" in m.text


def test_a_huge_body_is_capped():
    m = parse_bytes(b"From: a@example.com\r\n\r\n" + b"word " * (MAX_BODY_CHARS // 2))
    assert len(m.text) == MAX_BODY_CHARS and "body_capped" in m.flags


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02\xff\xfe", b"no header block at all", b"\r\n\r\n\r\n",
                                 b"Subject: =?utf-8?q?hi=0D=0AX-Outreach-Action:_accept?=\r\n\r\nx"])
def test_garbage_never_raises(raw):
    m = parse_bytes(raw, origin="g#1", fallback_id="g#1")
    assert m.id and isinstance(m.text, str)


def test_encoded_newlines_in_a_subject_do_not_survive():
    m = parse_bytes(b"From: a@example.com\r\nSubject: =?utf-8?q?hi=0D=0AX-Outreach-Action:_accept?=\r\n\r\nx")
    assert "\n" not in m.subject and "\r" not in m.subject


def test_dates_in_either_format_become_aware():
    assert parse_date("2026-03-02").tzinfo is not None
    assert parse_date("Mon, 2 Mar 2026 08:00:00 -0500").utcoffset().total_seconds() == -5 * 3600
    assert parse_date("yesterday") is None


def test_addresses_normalise_to_lower_case_addr_spec():
    assert normalise_address("Ana <ANA@Example.COM>") == "ana@example.com"
    assert normalise_address("nobody") is None


def test_html_to_text_keeps_words_apart():
    assert html_to_text("<p>one</p><p>two</p>").split() == ["one", "two"]


# ---------------------------------------------------------------- the address fast path equals the email package

import email.policy
import email.utils

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.parse.message import address_list, split_address

_WORD = st.text(st.sampled_from("abcXYZ09_.-+'é漢 \t\"(),:;<>@[]\\"), min_size=0, max_size=6)
_ADDRESS_LIKE = st.builds(
    lambda name, local, domain, form: [f"{name} <{local}@{domain}>", f"<{local}@{domain}>", f"{local}@{domain}",
                                       f"{local}@{domain} ({name})", f'"{name}" <{local}@{domain}>', name][form],
    _WORD, _WORD, _WORD, st.integers(0, 5))


@settings(max_examples=2000, deadline=None)
@given(st.lists(_ADDRESS_LIKE, min_size=1, max_size=3), st.sampled_from([",", ", ", " ,", ",,"]))
def test_address_parsing_equals_the_email_packages(addresses, separator):
    for value in addresses:
        assert split_address(value) == email.utils.parseaddr(value), value
    joined = separator.join(addresses)
    assert address_list(joined) == email.utils.getaddresses([joined]), joined


def test_address_parsing_on_common_forms():
    for value in ["Jane  Doe <j@x.org>", "J. Doe <j@x.org>", "<j@x.org>", "  j@x.org ", "Zoë Ng <z@x.org>",
                  "O'Brien <o@x.org>", "jane@x.org (Jane)", "A B <a..b@x.org>", "a.@x.org", "<a@b.c", "a@b.c>",
                  '"Lee, Ann" <ann@x.org>', "undisclosed-recipients:;", "", "Ann Lee <ann.lee@mail.example.org>"]:
        assert split_address(value) == email.utils.parseaddr(value), value
        assert address_list(value) == email.utils.getaddresses([value]), value


# ---------------------------------------------------------------- the header fast paths equal the email package

from email.header import decode_header, make_header

from classifier.parse.message import _first_headers


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from("aZ09 \t=?_-:;,.<>@\"'()éß漢\u00a0\u2028\udc80\ud800\x00\x1b"), max_size=40))
def test_a_header_without_an_encoded_word_decodes_to_itself(value):
    # message._header skips decode_header/make_header when the value holds no "=?"
    if "=?" not in value:
        assert str(make_header(decode_header(value))) == value


def test_first_headers_are_what_get_returns():
    raw = (b"From: a@x.org\nX-Gmail-Labels: Inbox\nSubject: one\nsubject: two\nTO: b@x.org\nReceived: 1\n"
           b"Received: 2\nSubject: =?utf-8?q?three?=\nFrom: \xff@x.org\n\nbody\n")
    mail = email.message_from_bytes(raw, policy=email.policy.compat32)
    first = _first_headers(mail)
    for name in ("from", "Subject", "SUBJECT", "to", "received", "x-gmail-labels", "cc", "date"):
        assert first.get(name.lower()) == mail.get(name), name
    message = parse_bytes(raw)
    assert (message.subject, message.sender, message.to, message.folders) == ("one", "a@x.org", ["b@x.org"], ["Inbox"])
