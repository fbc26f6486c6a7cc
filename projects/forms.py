from typing import Any, cast

from django import forms

from index_site.strict_forms import StrictForm
from projects.models import Project, Release, Report, Role
from projects.names import normalize_project_name


class InviteCollaboratorForm(StrictForm):
    username = forms.CharField(max_length=150, help_text="The username of an existing account.")
    role = forms.ChoiceField(
        choices=Role.Kind.choices,
        initial=Role.Kind.MAINTAINER,
        help_text="Maintainers upload releases; owners also manage collaborators and settings.",
    )


class ChangeRoleForm(StrictForm):
    role = forms.ChoiceField(choices=Role.Kind.choices)


class TrustedPublishingOnlyForm(StrictForm):
    enabled = forms.BooleanField(required=False)


class ProjectStatusForm(StrictForm):
    """An owner's choice of status: active, archived or deprecated (with a successor)."""

    status = forms.ChoiceField(
        choices=[
            (Project.Status.ACTIVE, "Active"),
            (Project.Status.ARCHIVED, "Archived"),
            (Project.Status.DEPRECATED, "Deprecated"),
        ]
    )
    reason = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional. Shown to installers and on the project page.",
    )
    successor = forms.CharField(
        max_length=255,
        required=False,
        help_text="Optional. The name of the project on this index that replaces this one.",
    )

    def clean_successor(self) -> Project | None:
        name = self.cleaned_data["successor"].strip()
        if not name:
            return None
        successor = Project.objects.filter(normalized_name=normalize_project_name(name)).first()
        if successor is None:
            raise forms.ValidationError(
                f"No project named '{name}' is on this index. Check the name of the successor, "
                "or leave it empty."
            )
        return successor


class ReportForm(StrictForm):
    kind = forms.ChoiceField(
        choices=Report.Kind.choices,
        widget=forms.RadioSelect,
        label="What is wrong",
    )
    version = forms.ChoiceField(
        required=False,
        label="Release",
        help_text="Leave on 'every release' when the whole project is the problem.",
    )
    description = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            "What you found and where: file names, code, links. The administrators read it; "
            "the project's owners do not see who reported it."
        ),
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only releases installers are offered: a quarantined one is already dealt with.
        versions = (
            Release.objects.offered().filter(project=project).values_list("version", flat=True)
        )
        version = cast(forms.ChoiceField, self.fields["version"])
        version.choices = [("", "Every release"), *((v, v) for v in versions)]
