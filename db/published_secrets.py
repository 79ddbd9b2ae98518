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
    }
)
