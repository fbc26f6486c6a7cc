"""The second factors: TOTP, WebAuthn (security keys, passkeys) and recovery codes, with their
views, forms, urls and admin."""
