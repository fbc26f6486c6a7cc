"""The token creation form: name, scope, expiry and IP ranges."""

from datetime import UTC, datetime, time, timedelta
from typing import cast

from django import forms
from django.utils import timezone

from accounts.models import User
from index_site.strict_forms import StrictForm
from tokens.selectors import scopable_projects_for_user
from tokens.services import NAME_MAX_LENGTH

SCOPE_ALL = "all"
SCOPE_PROJECTS = "projects"
EXPIRY_NEVER = ""
EXPIRY_DATE = "date"
EXPIRY_DAYS = ("30", "90", "365")


class ProjectChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class TokenCreateForm(StrictForm):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        help_text="Something to recognise it by, such as where it is used: 'GitHub CI for foo'.",
    )
    scope = forms.ChoiceField(
        choices=[
            (SCOPE_ALL, "All my projects (and new projects it uploads)"),
            (SCOPE_PROJECTS, "Only the projects chosen below"),
        ],
        initial=SCOPE_ALL,
        widget=forms.RadioSelect,
    )
    projects = ProjectChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Projects you own or maintain. Scope a token to as few projects as you can.",
    )
    expiry = forms.ChoiceField(
        choices=[
            (EXPIRY_NEVER, "Never"),
            ("30", "In 30 days"),
            ("90", "In 90 days"),
            ("365", "In a year"),
            (EXPIRY_DATE, "On the date below"),
        ],
        required=False,
        initial="90",
    )
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The token stops working at the start of this day (UTC).",
    )
    ip_networks = forms.CharField(
        required=False,
        label="Allowed IP ranges",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address or CIDR range per line, such as 192.0.2.0/24. Leave empty to "
        "allow any address.",
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        projects = cast(ProjectChoiceField, self.fields["projects"])
        projects.queryset = scopable_projects_for_user(user)

    def clean(self):
        data = super().clean()
        if data.get("scope") == SCOPE_PROJECTS and not data.get("projects"):
            self.add_error("projects", "Choose at least one project, or scope the token to all.")
        if data.get("expiry") == EXPIRY_DATE:
            expires_on = data.get("expires_on")
            if expires_on is None:
                self.add_error("expires_on", "Choose the day the token should expire.")
            elif expires_on <= timezone.now().date():
                self.add_error("expires_on", "Choose a day after today.")
        return data

    @property
    def project_ids(self) -> list[int] | None:
        if self.cleaned_data["scope"] != SCOPE_PROJECTS:
            return None
        return [project.pk for project in self.cleaned_data["projects"]]

    @property
    def expires_at(self) -> datetime | None:
        expiry = self.cleaned_data.get("expiry")
        if expiry in EXPIRY_DAYS:
            return timezone.now() + timedelta(days=int(expiry))
        if expiry == EXPIRY_DATE:
            return datetime.combine(self.cleaned_data["expires_on"], time.min, tzinfo=UTC)
        return None

    @property
    def networks(self) -> list[str]:
        raw = self.cleaned_data.get("ip_networks", "")
        return [part for part in raw.replace(",", "\n").split() if part]
