from __future__ import annotations

from ledger.records import Dropped, Seed
from transforms.scrub import ScrubConfig, scrub_dropped, scrub_matches, scrub_seed, scrub_text
from transforms.secret_patterns import is_secret_value, named_placeholder

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


# fake keys, built by concatenation so no literal in the repository looks like a live key to a secret scanner
AWS_SECRET_42 = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8rT5vW2kHn"  # the issue's value: 42 characters, not 40
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
TWILIO = "SK" + "0123456789abcdef" * 2
SENDGRID = "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
NPM = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PYPI = "pypi-" + "AgEIcHlwaS5vcmc" + "CJGY2E4ZDM4Ny1mNjQ1LTRkZmMtYjY3Mi1iNDk0ZjEwYjY4NjMAAioz"
GCP_API = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
GCP_KEY_ID = "3f2b" + "a1c9e8d7" * 4 + "0f1e"
AZURE = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw" + "=="
SAS_SIG = "sv=2021-06-08&ss=b&srt=sco&sp=rl&sig=" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8%3D"


def test_the_issue_aws_secret_access_key_is_replaced_by_its_name():
    out, counts = scrub_text(f'aws_access_key_id="{AWS}"\naws_secret_access_key="{AWS_SECRET_42}"', ScrubConfig())
    assert out == 'aws_access_key_id="<AWS_KEY>"\naws_secret_access_key="<AWS_SECRET>"'
    assert dict(counts) == {"aws_key": 1, "named_secret": 1}


def test_secret_named_values_are_replaced_in_every_syntax():
    cases = {  # line -> what it becomes
        'password = "hunter2"': 'password = "<PASSWORD>"',
        "DB_PASSWORD=s3cr3t!x": "DB_PASSWORD=<PASSWORD>",  # .env
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET_42}": "export AWS_SECRET_ACCESS_KEY=<AWS_SECRET>",
        "  client_secret: 'Xy7_abQ2-ZZ9kk'": "  client_secret: '<SECRET>'",  # YAML
        '{"api_key": "9f8e7d6c5b4a39281706", "n": 1}': '{"api_key": "<SECRET>", "n": 1}',  # JSON
        "token = 'b1946ac92492d2347c6235b4d2611184'": "token = '<SECRET>'",
        "conn = connect(user='sa', password='Tr0ub4dor&3')": "conn = connect(user='sa', password='<PASSWORD>')",
        "val apiKey: String = \"k3y-Th4t-w0rks\"": "val apiKey: String = \"<SECRET>\"",  # typed (Kotlin)
        "$db_pass = 'x'; $secret = 'p@ssW0rd';": "$db_pass = 'x'; $secret = '<SECRET>';",  # PHP
        "curl 'https://api.example.com/v1?api_key=abc123def456&q=1'":
            "curl 'https://api.example.com/v1?api_key=<SECRET>&q=1'",
        "config.auth_token := \"TwAuth9f8e7d6c5b4a\"": "config.auth_token := \"<SECRET>\"",  # Go, a dotted name
        "'secret_key' => 'base64:Zm9vYmFyYmF6'": "'secret_key' => '<SECRET>'",  # PHP array
    }
    for line, expected in cases.items():
        out, counts = scrub_text(line, ScrubConfig())
        assert (out, dict(counts)) == (expected, {"named_secret": 1}), line


def test_documentation_stand_ins_for_secrets_are_left_alone():
    lines = [
        "password: <your-password>", 'token = os.environ["TOKEN"]', "api_key=None", "secret_key = settings.SECRET",
        "password = input('Password: ')", "password = getpass.getpass()", "secret: ${SECRET}", "token: {{ token }}",
        'password = "password"', 'PASSWORD="changeme"', "api_key = 'YOUR_API_KEY'", "token: xxxxxxxxxxxxxxxx",
        "password: '********'", 'secret = ""', "password=abc", 'token = "}"', "token: !vault |",
        "export GITHUB_TOKEN=$GH_TOKEN", "set API_KEY=%API_KEY%", "api_key: my_api_key", "if password == 'x1y2z3w4':",
        "token = next(tokens)", "password: the password of the account", 'secret = "not a secret at all"',
        "auth_token = request.headers['X-Token']", "SECRET_KEY = env('SECRET_KEY')", "tokens = ['a1', 'b2c3d4e5']",
        "token_type: Bearer123", "Password: 12345678", "aws_secret_access_key = <AWS_SECRET>",
        # seen on the shared documentation pages (see bench/scrub_false_positives.py)
        "dummyToken = comments: []", "-initWithURL:certificate:privateKey:password:", "C.Password:='Secret';",
        "refresh_token : String? refresh_token", "new URL('https://abc:xyz@localhost:8080/')",
        "`postgres://[user[:password]@][hostname][:port][/database]`", "Sql.Sql(\"tds://user:pass@host/database\")",
    ]
    for line in lines:
        assert scrub_text(line, ScrubConfig()) == (line, {}), line


def test_the_value_rule_decides_on_the_value_alone():
    assert is_secret_value("hunter2", quoted=True) and is_secret_value("s3cr3t!x", quoted=False)
    assert not is_secret_value("SECRETKEY", quoted=True) and not is_secret_value("12345678", quoted=True)  # 1 class
    assert not is_secret_value("pw1", quoted=True)  # short
    assert not is_secret_value("Secret", quoted=True) and not is_secret_value("password]", quoted=True)  # own word
    assert not is_secret_value("my_name", quoted=False) and is_secret_value("my_name", quoted=True)  # a variable
    assert not is_secret_value("comments:", quoted=False) and not is_secret_value("String?", quoted=False)
    assert not is_secret_value("Name:%s", quoted=False)  # a format string
    assert not is_secret_value("a1b2 c3d4", quoted=True)  # a sentence
    assert named_placeholder("DB_PASSWORD") == "<PASSWORD>" and named_placeholder("AWS_SECRET_KEY") == "<AWS_SECRET>"
    assert named_placeholder("clientSecret") == "<SECRET>"


def test_cloud_and_service_keys_are_replaced_by_shape():
    text = (f"stripe.api_key = {STRIPE}\nclient = Client(ACCOUNT_SID, {TWILIO})\nsg = SendGridAPIClient({SENDGRID})\n"
            f"login({HF})\n//registry.npmjs.org/:_authToken={NPM}\npassword = {PYPI}\nmaps?key={GCP_API}\n"
            f'{{"type": "service_account", "private_key_id": "{GCP_KEY_ID}", '
            '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n'
            '-----END PRIVATE KEY-----\\n"}\n'
            f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE};EndpointSuffix=core.windows.net\n"
            f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={AZURE}\n"
            f"https://acct.blob.core.windows.net/c?{SAS_SIG}")
    out, counts = scrub_text(text, ScrubConfig())
    for secret in (STRIPE, TWILIO, SENDGRID, HF, NPM, PYPI, GCP_API, GCP_KEY_ID, AZURE, "MIIEvQIBADANBgkqhkiG9w0B",
                   SAS_SIG[-30:]):
        assert secret not in out
    assert dict(counts) == {"stripe_key": 1, "twilio_key": 1, "sendgrid_key": 1, "hf_token": 1, "npm_token": 1,
                            "pypi_token": 1, "gcp_key": 2, "private_key": 1, "azure_key": 3}
    for placeholder in ("<STRIPE_KEY>", "<TWILIO_KEY>", "<SENDGRID_KEY>", "<HF_TOKEN>", "<NPM_TOKEN>",
                        "<PYPI_TOKEN>", "<GCP_KEY>", '"private_key_id": "<GCP_KEY>"', "AccountKey=<AZURE_KEY>;",
                        "SharedAccessKey=<AZURE_KEY>", "sig=<AZURE_KEY>"):
        assert placeholder in out, placeholder


def test_scrub_matches_lists_what_scrub_text_replaces():
    text = f'aws_secret_access_key="{AWS_SECRET_42}" and {STRIPE}'
    found = scrub_matches(text, ScrubConfig())
    assert [(kind, t[start:end]) for kind, start, end, t in found] == [("stripe_key", STRIPE),
                                                                       ("named_secret", AWS_SECRET_42)]
