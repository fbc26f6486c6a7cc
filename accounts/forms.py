"""Account forms. They validate input only; the views call one service each."""

from types import SimpleNamespace
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.core.validators import RegexValidator

from accounts import ratelimits
from accounts.models import USERNAME_RE, User
from accounts.passwords import PASSWORD_TOO_LONG_MESSAGE, is_password_too_long
from index_site.strict_forms import StrictForm, StrictInputMixin

USERNAME_HELP = "Letters, digits, '.', '_' or '-'; starts and ends with a letter or digit."
PASSWORDS_DIFFER_MESSAGE = "The two passwords differ. Type the same password in both fields."


def password_field(label: str, *, autocomplete: str, help_text: str = "") -> forms.CharField:
    # strip=False: leading and trailing spaces are part of the password.
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
        help_text=help_text,
    )


def clean_length(password: str) -> str:
    """Refuse an over-long password before any hasher or validator sees it."""
    if is_password_too_long(password):
        raise forms.ValidationError(PASSWORD_TOO_LONG_MESSAGE, code="password_too_long")
    return password


class NewPasswordLengthMixin:
    """Caps both new-password fields (`new_password1`, `new_password2`) before any validator or
    hasher sees them."""

    cleaned_data: dict[str, Any]

    def clean_new_password1(self) -> str:
        return clean_length(self.cleaned_data["new_password1"])

    def clean_new_password2(self) -> str:
        return clean_length(self.cleaned_data["new_password2"])


class NewPasswordForm(NewPasswordLengthMixin, StrictForm):
    """Two new-password fields checked against the validators for the given user attributes."""

    def check_new_password(self, cleaned_data: dict, user_like: Any) -> None:
        password1 = cleaned_data.get("new_password1")
        password2 = cleaned_data.get("new_password2")
        if password1 is None or password2 is None:
            return
        if password1 != password2:
            self.add_error("new_password2", PASSWORDS_DIFFER_MESSAGE)
            return
        try:
            password_validation.validate_password(password1, user_like)
        except forms.ValidationError as error:
            self.add_error("new_password1", error)


class RegistrationForm(NewPasswordForm):
    username = forms.CharField(
        max_length=50,
        validators=[
            RegexValidator(USERNAME_RE, "Use only " + USERNAME_HELP[0].lower() + USERNAME_HELP[1:])
        ],
        help_text=USERNAME_HELP + " Your username is public.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    name = forms.CharField(
        label="Display name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="We send a link to confirm it's yours.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    new_password1 = password_field(
        "Password",
        autocomplete="new-password",
        help_text="At least 8 characters; not a common or breached password.",
    )
    new_password2 = password_field("Password again", autocomplete="new-password")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("This username is taken. Choose another one.")
        return username

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if "://" in name:
            raise forms.ValidationError("Use a name without a web address.")
        return name

    def clean(self) -> dict:
        super().clean()
        cleaned_data = self.cleaned_data
        # Not a User yet: its `email` is a property over saved rows. `_meta` names the fields
        # in the similarity validator's message ("too similar to the display name").
        user_like = SimpleNamespace(
            _meta=User._meta,
            username=cleaned_data.get("username", ""),
            name=cleaned_data.get("name", ""),
            email=cleaned_data.get("email", ""),
        )
        self.check_new_password(cleaned_data, user_like)
        return cleaned_data


class LoginForm(StrictForm):
    username = forms.CharField(
        max_length=254,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    password = password_field("Password", autocomplete="current-password")

    def clean_password(self) -> str:
        return clean_length(self.cleaned_data["password"])


class ReauthForm(StrictForm):
    password = password_field("Password", autocomplete="current-password")

    def clean_password(self) -> str:
        return clean_length(self.cleaned_data["password"])


class ProfileForm(StrictForm):
    name = forms.CharField(
        label="Display name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if "://" in name:
            raise forms.ValidationError("Use a name without a web address.")
        return name


class AddEmailForm(StrictForm):
    email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class PasswordChangeForm(NewPasswordForm):
    current_password = password_field("Current password", autocomplete="current-password")
    new_password1 = password_field(
        "New password",
        autocomplete="new-password",
        help_text="At least 8 characters; not a common or breached password.",
    )
    new_password2 = password_field("New password again", autocomplete="new-password")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_current_password(self) -> str:
        password = clean_length(self.cleaned_data["current_password"])
        if not self.user.check_password(password):
            raise forms.ValidationError(
                "Your current password is incorrect. Type it again, or reset it if you forgot it."
            )
        return password

    def clean(self) -> dict:
        super().clean()
        cleaned_data = self.cleaned_data
        self.check_new_password(cleaned_data, self.user)
        return cleaned_data


class PasswordResetRequestForm(StrictForm):
    identifier = forms.CharField(
        label="Username or email address",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )


class ResetPasswordForm(StrictInputMixin, NewPasswordLengthMixin, SetPasswordForm):
    """Django's set-password form with the byte cap before any validator or hasher runs."""


class ClearLoginLimitsForm(StrictForm):
    """Which login counters an administrator clears: an account's, or an address's."""

    kind = forms.ChoiceField(choices=[("account", "Account"), ("address", "IP or network")])
    value = forms.CharField(max_length=150, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        kind, value = cleaned_data.get("kind"), cleaned_data.get("value", "")
        if kind and value:
            try:
                cleaned_data["subject"] = ratelimits.limit_subject(**{kind: value})
            except ratelimits.LimitSubjectError as error:
                raise forms.ValidationError(error.message) from error
        return cleaned_data
