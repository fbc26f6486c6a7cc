import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

USERNAME_RE = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$"


class GatehouseUserManager(UserManager):
    """Django's manager minus the `email` field this model keeps in its own table."""

    def _create_user(self, username, email, password, **extra_fields):
        user = self.model(username=username, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username):
        # Usernames are unique case-insensitively, so login is too.
        return self.get(username__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    username = models.CharField(
        max_length=50,
        unique=True,
        validators=[
            RegexValidator(
                USERNAME_RE,
                "Use letters, digits, '.', '_' or '-', starting and ending with a letter or digit.",
            )
        ],
    )
    name = models.CharField("display name", max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    session_epoch = models.PositiveIntegerField(
        default=0,
        help_text="Raised on every change to how the user logs in; ends their other sessions.",
    )

    objects = GatehouseUserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email(self) -> str:
        """The primary address, for Django's own helpers; "" when there is none."""
        primary = next((e for e in self.emails.all() if e.is_primary), None)
        return primary.email if primary else ""

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's HMAC of the password hash, with the session epoch mixed in.

        A session stays valid only while both are unchanged, so a password change *or* a
        second-factor change (`accounts.sessions.end_other_sessions`) ends the user's other
        sessions. Epoch 0 keeps Django's exact value, so sessions made before the epoch
        existed survive the upgrade. Both the current and the fallback hashes of
        `SECRET_KEY_FALLBACKS` go through here.
        """
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        value = self.password if not self.session_epoch else f"{self.password}|{self.session_epoch}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()


class Email(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(max_length=254)
    is_primary = models.BooleanField(default=False)
    is_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="email_address_ci_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_primary=True), name="one_primary_email"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class TOTPDevice(models.Model):
    """A user's authenticator app. The secret is encrypted at rest."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    encrypted_secret = models.BinaryField()
    is_confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(
        null=True, blank=True, help_text="The last accepted time step; must strictly increase."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"Authenticator app of {self.user}"


class WebAuthnCredential(models.Model):
    """A security key, platform authenticator or passkey."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webauthn_credentials")
    label = models.CharField(max_length=64)
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    is_discoverable = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "WebAuthn credential"
        constraints = [
            models.UniqueConstraint(fields=["user", "label"], name="webauthn_label_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class WebAuthnUserHandle(models.Model):
    """The opaque user handle WebAuthn credentials carry (never the username or primary key)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="webauthn_handle")
    handle = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    def __str__(self) -> str:
        return str(self.handle)


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a password hash."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    burned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Recovery code of {self.user}"
