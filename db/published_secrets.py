"""Secret values this repository publishes, which therefore protect nothing once the system talks to the real world.

Anyone can read them here, so live mode (``TWILIO_API_BASE_URL`` empty) refuses every one of them. The defaults of
the secret fields of ``Settings`` are added where the set is used; this list holds the other literals the
repository publishes (its tests, examples and dashboards). ``tests/unit/test_published_secrets.py`` searches the
repository for secret literals and fails when one is missing here, so a newly published value cannot slip through.
"""

from __future__ import annotations

# The secret calendar credentials are encrypted under when CALENDAR_CREDENTIALS_KEY is empty outside live mode (the
# sandbox and tests): published here, so live mode never uses it.
SANDBOX_CREDENTIALS_KEY = "rN0808jey0eZjg5yhX5XToDFax_fZzzUHzWX14yUX7o="

# The sandbox's calendar stand-ins (ops/sandbox/google_calendar.py, jobber.py): the access token each accepts (what
# `nmc calendar link` takes locally), the refresh token its token endpoint honours, and the OAuth client it knows,
# which outside live mode is the default GOOGLE_/JOBBER_OAUTH_CLIENT_ID and _SECRET.
SANDBOX_GOOGLE_ACCESS_TOKEN = "ya29.sandbox-google-access-token"
SANDBOX_GOOGLE_REFRESH_TOKEN = "1//sandbox-google-refresh-token"
SANDBOX_GOOGLE_CLIENT_ID = "nmc-sandbox.apps.googleusercontent.com"
SANDBOX_GOOGLE_CLIENT_SECRET = "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cret"
SANDBOX_JOBBER_ACCESS_TOKEN = "sandbox-jobber-access-token"
SANDBOX_JOBBER_REFRESH_TOKEN = "sandbox-jobber-refresh-token"
SANDBOX_JOBBER_CLIENT_ID = "nmc-sandbox-jobber-app"
SANDBOX_JOBBER_CLIENT_SECRET = "nmc-sandbox-jobber-app-secret"
# The bearer key the sandbox's chat-completions stand-in (ops/sandbox/chat_completions.py) accepts, which outside
# live mode is what AI_API_KEY resolves to while AI_BASE_URL is empty.
SANDBOX_AI_API_KEY = "sk-nmc-sandbox-chat-completions-key"

PUBLISHED_SECRET_LITERALS: frozenset[str] = frozenset(
    {
        # Test fixtures: published in tests/ as signing secrets, tokens and keys.
        "whsec_test_secret",
        "whsec_unit_test_secret",
        "whsec_old_secret",
        "whsec_other",
        "sk-test",
        "unit-test-auth-token-0000000000",
        "test-access-token",
        "test-refresh-token",
        "test-oauth-client-secret",
        "s3cret-token",
        "wrong",
        "short",
        "s3cret-pw",
        "hunter2-secret",
        "chan-token",
        # Placeholders anyone might leave in a copied .env; Grafana's factory password.
        "admin",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        SANDBOX_CREDENTIALS_KEY,
        SANDBOX_GOOGLE_ACCESS_TOKEN,
        SANDBOX_GOOGLE_REFRESH_TOKEN,
        SANDBOX_GOOGLE_CLIENT_SECRET,
        SANDBOX_JOBBER_ACCESS_TOKEN,
        SANDBOX_JOBBER_REFRESH_TOKEN,
        SANDBOX_JOBBER_CLIENT_SECRET,
        SANDBOX_AI_API_KEY,
    }
)
