from __future__ import annotations

from ledger.records import Dropped, Seed
from transforms.scrub import ScrubConfig, scrub_dropped, scrub_seed, scrub_text

AWS = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
OPENAI = "sk-proj-" + "Zx9" * 12
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nw9k2Yx==\n-----END RSA PRIVATE KEY-----"


def test_every_kind_is_replaced_and_counted():
    text = (f"aws_access_key_id = {AWS}\naws_secret_access_key = {AWS_SECRET}\ntoken: {GITHUB}\n"
            f"slack {SLACK}\nOPENAI_API_KEY={OPENAI}\nAuthorization: Bearer {JWT}\n{KEY}\n"
            "postgres://admin:hunter2@db.example.com:5432/app\nServer=db;User Id=sa;Password=s3cr3t;\n"
            "mail jane.doe@example.com from 8.8.8.8 or 192.168.1.10 (version 1.2.3.4.5)")
    out, counts = scrub_text(text, ScrubConfig())
    for secret in (AWS, AWS_SECRET, GITHUB, SLACK, OPENAI, JWT, "MIIEowIBAAKCAQEA7bq", "hunter2", "s3cr3t",
                   "jane.doe@example.com", "8.8.8.8"):
        assert secret not in out
    assert dict(counts) == {"aws_key": 1, "aws_secret": 1, "github_token": 1, "slack_token": 1, "openai_key": 1,
                            "jwt": 1, "private_key": 1, "password": 2, "email": 1, "ip_address": 1}
    assert "postgres://admin:<PASSWORD>@db.example.com" in out and "Password=<PASSWORD>;" in out
    assert "192.168.1.10" in out and "1.2.3.4.5" in out  # private address and a version string stay


def test_ordinary_code_is_left_alone():
    code = "password = input('Password: ')\nfor (i = 0; i < 10; i++) { sk = key; }\nstd::vector<int> v;"
    assert scrub_text(code, ScrubConfig()) == (code, {})


def test_switches_turn_kinds_off():
    out, counts = scrub_text("a@b.org 8.8.8.8", ScrubConfig(emails=False, ip_addresses=False))
    assert out == "a@b.org 8.8.8.8" and not counts


def test_seed_text_title_and_url_are_scrubbed_and_sizes_recomputed():
    seed = Seed("i", f"https://x.org/?t={GITHUB}", "x.org", "r", "w", "c", "f", 0, f"key {AWS}", f"use {AWS} now",
                10, 3)
    out, counts = scrub_seed(seed, ScrubConfig())
    assert AWS not in out.text + out.title and GITHUB not in out.url
    assert out.scrubbed == 3 and out.text_chars == len(out.text) and sum(counts.values()) == 3


def test_dropped_rows_are_scrubbed():
    row = Dropped("Extract", "too_short", "i", f"https://x.org/?k={AWS}", f"detail {AWS}")
    assert AWS not in "".join(scrub_dropped(row, ScrubConfig()))


def test_a_dotted_version_glued_to_a_name_is_not_an_ip_address():
    # seen on a real Haskell doc URL: .../text-1.2.5.0/Data-Text.html
    out, counts = scrub_text("libraries/text-1.2.5.0/Data-Text.html served from 8.8.8.8", ScrubConfig())
    assert out == "libraries/text-1.2.5.0/Data-Text.html served from <IP_ADDRESS>"
    assert counts["ip_address"] == 1
