"""What a secret looks like, by shape (a key's known prefix) and by name (`password = ...`); pure, no Beam.

By name: a key or variable whose name ends in password/passwd/passphrase/secret/token, or in api/secret/access/
private/auth/client/account/encryption/signing/master + key (`DB_PASSWORD`, `apiKey`, `aws_secret_access_key`,
`"client_secret"`, `_authToken`), then `=`, `:`, `:=`, `=>` or a typed `: str =` (assignments, keyword arguments,
YAML, JSON, TOML, .env and `export` lines, URL query strings), then a value. Only the value is replaced, and only
when it is a literal that could be a secret (see `is_secret_value`): a variable reference, a call, a placeholder,
a sentence or a short or single-class value is what documentation shows, not a credential. The passwords of URLs
and connection strings (`user:pass@host`, `Password=x;`) go through the same value rule.
"""

from __future__ import annotations

import re

# (kind, pattern, placeholder, hints); a pattern with groups named "secret..." replaces only the one that matched.
# A pattern runs only on text holding one of its hints (lower case for a case-blind pattern): most pages hold none,
# and `in` is far cheaper than a regex scan. Order matters: a later pattern sees the placeholders of the earlier
# ones, and the by-name rule runs last.
SHAPES: tuple[tuple[str, re.Pattern, str, tuple[str, ...]], ...] = (
    ("private_key", re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
                               r"(?:[\s\S]{0,20000}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
                               r"|[A-Za-z0-9+/=:\s-]{0,20000})"), "<PRIVATE_KEY>", ("PRIVATE KEY",)),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "<JWT>", ("eyJ",)),
    ("aws_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[0-9A-Z]{16}\b"), "<AWS_KEY>",
     ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA")),
    ("aws_secret", re.compile(r"(?i)aws.{0,20}?(?:secret|key).{0,20}?[=:]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})"
                              r"(?![A-Za-z0-9/+=])"), "<AWS_SECRET>", ("aws",)),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
     "<GITHUB_TOKEN>", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,250}|https://hooks\.slack\.com/services/"
                               r"T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"), "<SLACK_TOKEN>",
     ("xox", "hooks.slack.com")),
    ("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}\b"), "<OPENAI_KEY>", ("sk-",)),
    # a service-account JSON's private_key is a PEM block (above); its id and Google API keys are caught here
    ("gcp_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])|"
                           r"\"private_key_id\"\s*:\s*\"(?P<secret>[0-9a-f]{40})\""), "<GCP_KEY>",
     ("AIza", "private_key_id")),
    # storage/Service Bus/Event Hubs connection strings and shared access signatures
    ("azure_key", re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey)\s*=\s*(?P<secret>[A-Za-z0-9+/]{20,}={0,2})"
                             r"|[?&;]sig=(?P<secret2>[A-Za-z0-9%+/]{30,}={0,2})"), "<AZURE_KEY>",
     ("accountkey", "sharedaccesskey", "sig=")),
    ("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247}\b"), "<STRIPE_KEY>",
     ("_live_", "_test_")),
    ("twilio_key", re.compile(r"\bSK[0-9a-fA-F]{32}\b"), "<TWILIO_KEY>", ("SK",)),
    ("sendgrid_key", re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), "<SENDGRID_KEY>",
     ("SG.",)),
    ("hf_token", re.compile(r"\b(?:hf_|api_org_)[A-Za-z0-9]{34}\b"), "<HF_TOKEN>", ("hf_", "api_org_")),
    ("npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), "<NPM_TOKEN>", ("npm_",)),
    ("pypi_token", re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}"), "<PYPI_TOKEN>", ("pypi-AgE",)),
    ("password", re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"<>]{1,100}:(?P<secret>[^\s@/'\"<>]{1,200})@"),
     "<PASSWORD>", ("://",)),
    # ADO.NET/ODBC style: ...;Password=x  or  Password=x;...  (not `password = input()` in code)
    ("password", re.compile(r"(?i);\s*(?:password|pwd)\s*=\s*(?P<secret>[^;'\"\s<>]{1,200})"), "<PASSWORD>",
     ("password", "pwd")),
    ("password", re.compile(r"(?i)\b(?:password|pwd)=(?P<secret>[^;'\"\s<>]{1,200});"), "<PASSWORD>",
     ("password", "pwd")),
)

# kinds found by a key's name rather than its shape, whose value must also pass is_secret_value (`user:pass@`)
VALUE_CHECKED = frozenset({"password"})

# the name's last word; the regex starts there (a first-letter lookahead makes the scan ~2x faster), and secret_name
# reads the rest of the name backwards
_WORD = (r"(?:pass(?:word|wd|phrase)|secret|token"
         r"|(?:api|secret|access|private|auth|client|account|encryption|signing|master)[_-]?key)")
# last word, optional closing quote, separator (a typed `: str =` first), optional opening quote, value
NAMED = re.compile(
    r"(?i)(?P<word>(?=[pstacem])" + _WORD + r")(?![A-Za-z0-9_])[\"']?[ \t]*"
    r"(?::[ \t]*[A-Za-z_][\w.\[\]]{0,30}[ \t]*=(?!=)|:=|=>|=(?![=~])|:(?![:=]))[ \t]*"
    r"(?:[bru]{0,2}(?P<quote>[\"'`])(?P<quoted>[^\"'`\n]{0,300})(?P=quote)|(?P<bare>[^\s\"'`,;&|)}\]]{1,300}))")
NAMED_HINTS = ("pass", "secret", "token", "key")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def has_hint(text: str, lowered: str, pattern: re.Pattern, hints: tuple[str, ...]) -> bool:
    """Whether the text holds one of a pattern's hints, so the pattern is worth running."""
    haystack = lowered if pattern.flags & re.IGNORECASE else text
    return any(hint in haystack for hint in hints)


def secret_name(match: re.Match) -> str:
    """The whole key name a NAMED match ends with (`DB_PASSWORD`, `config.auth_token`, `--password`)."""
    text, start = match.string, match.start("word")
    while start > 0 and text[start - 1] in _NAME_CHARS:
        start -= 1
    return text[start: match.end("word")]


MIN_SECRET_CHARS = 6
_PLACEHOLDER_WORDS = ("your", "example", "changeme", "change_me", "change-me", "placeholder", "dummy", "xxx",
                      "***", "...", "redacted", "replace", "<", ">", "${", "{{", "%(", "%s", "%d", "todo", "fixme",
                      "password", "passwd", "secret", "token")  # the key's own word: `mysecret`, `[:password]`
_NAME_OR_DOTTED = re.compile(r"[A-Za-z_]+|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_REFERENCE = re.compile(r"^[$%@!&*]|[(\[{]")  # $VAR %VAR% @param, YAML tags/anchors/aliases, calls, indexing


def is_secret_value(value: str, quoted: bool) -> bool:
    """Whether a value assigned to a secret-named key could be a credential rather than a documentation stand-in."""
    return not why_not_secret(value, quoted)


def why_not_secret(value: str, quoted: bool) -> str:
    """Why a value given to a secret-named key is a documentation stand-in, or "" when it could be a credential.

    In this order, not a secret: shorter than MIN_SECRET_CHARS or fewer than 4 distinct characters (`******`);
    unquoted and a name without digits or a dotted name, trailing punctuation aside (`None`, `my_name`,
    `settings.SECRET`, `comments:`, `String?`); unquoted and a reference or call (`$TOKEN`, `%KEY%`,
    `os.environ["TOKEN"]`, `getpass()`); quoted with whitespace (a sentence or prompt); a placeholder (`<...>`,
    `${...}`, `{{...}}`, `%s`, `your_...`, `xxx`, `changeme`, `example`, ...) or holding the key's own word
    (`mysecret`, `Password1`); fewer than two character classes among lower case, upper case, digits and others
    (`12345678`, `SECRETKEY`).
    """
    if len(value) < MIN_SECRET_CHARS or len(set(value)) < 4:
        return "short"
    if not quoted and _NAME_OR_DOTTED.fullmatch(value.rstrip(":.,;?!")):
        return "name"
    if not quoted and _REFERENCE.search(value):
        return "reference"
    if quoted and any(c.isspace() for c in value):
        return "sentence"
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "placeholder"
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
               + any(not c.isalnum() for c in value))
    return "" if classes >= 2 else "one_class"


def named_placeholder(name: str) -> str:
    """The placeholder for a secret found by its name: `<PASSWORD>`, `<AWS_SECRET>` or `<SECRET>`."""
    lowered = name.lower()
    if "pass" in lowered:
        return "<PASSWORD>"
    if "aws" in lowered:
        return "<AWS_SECRET>"
    return "<SECRET>"
