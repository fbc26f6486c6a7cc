"""Logging a test client in the way the admin requires: a login completed with a second factor."""

from django.test import Client

from accounts.login import SECOND_FACTOR_VERIFIED_KEY


def log_in_for_admin(client: Client, user) -> Client:
    """Log `client` in as `user` as if the login had ended with a second factor."""
    client.force_login(user)
    session = client.session
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    return client
