from django.urls import path

from projects import api
from projects.views import files, manage, public, releases, simple, status

app_name = "projects"

urlpatterns = [
    path("simple/", simple.simple_index, name="simple_index"),
    path("simple/<text:name>/", simple.simple_project, name="simple_project"),
    path("files/<textpath:path>", files.download_file, name="file"),
    # The JSON API, with or without the trailing slash as on PyPI.
    path("pypi/<text:name>/json", api.ProjectJSONView.as_view(), name="json_project"),
    path("pypi/<text:name>/json/", api.ProjectJSONView.as_view()),
    path(
        "pypi/<text:name>/<text:version>/json",
        api.ReleaseJSONView.as_view(),
        name="json_release",
    ),
    path("pypi/<text:name>/<text:version>/json/", api.ReleaseJSONView.as_view()),
    path("project/<text:name>/", public.project_detail, name="detail"),
    # Before the release page, whose version would match "report".
    path("project/<text:name>/report/", status.report_project, name="report"),
    path("project/<text:name>/<text:version>/", public.project_detail, name="release"),
    path("manage/projects/", manage.my_projects, name="mine"),
    path("manage/project/<text:name>/settings/", manage.project_settings, name="settings"),
    path("manage/project/<text:name>/history/", manage.project_history, name="history"),
    *(
        path(
            f"manage/project/<text:name>/history/export.{fmt}",
            manage.project_history_export,
            {"fmt": fmt},
            name=f"history_export_{fmt}",
        )
        for fmt in ("jsonl", "csv")
    ),
    path("manage/project/<text:name>/collaborators/invite/", manage.invite, name="invite"),
    path(
        "manage/project/<text:name>/collaborators/<int:role_id>/change/",
        manage.change,
        name="change_role",
    ),
    path(
        "manage/project/<text:name>/collaborators/<int:role_id>/remove/",
        manage.remove,
        name="remove_role",
    ),
    path(
        "manage/project/<text:name>/invitations/<int:invitation_id>/revoke/",
        manage.revoke,
        name="revoke_invitation",
    ),
    path(
        "manage/project/<text:name>/trusted-publishing-only/",
        manage.trusted_publishing_only,
        name="trusted_publishing_only",
    ),
    path("manage/project/<text:name>/leave/", manage.leave, name="leave"),
    # Release lifecycle: yank, un-yank and deletion.
    path("manage/project/<text:name>/releases/", releases.release_list, name="releases"),
    path(
        "manage/project/<text:name>/release/<text:version>/",
        releases.release_detail,
        name="manage_release",
    ),
    path(
        "manage/project/<text:name>/release/<text:version>/yank/",
        releases.yank,
        name="yank_release",
    ),
    path(
        "manage/project/<text:name>/release/<text:version>/unyank/",
        releases.unyank,
        name="unyank_release",
    ),
    path(
        "manage/project/<text:name>/release/<text:version>/delete/",
        releases.release_delete,
        name="delete_release",
    ),
    path(
        "manage/project/<text:name>/release/<text:version>/files/<int:file_id>/delete/",
        releases.file_delete,
        name="delete_file",
    ),
    path("manage/project/<text:name>/delete/", releases.project_delete, name="delete_project"),
    # Project status and reports
    path("manage/project/<text:name>/status/", status.project_status, name="status"),
    path("invitations/<text:token>/", manage.invitation_from_link, name="invitation"),
    path("invitations/<int:invitation_id>/accept/", manage.accept, name="accept_invitation"),
    path("invitations/<int:invitation_id>/decline/", manage.decline, name="decline_invitation"),
]
