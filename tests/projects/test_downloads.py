import datetime

import pytest

from projects.models import DownloadCount
from projects.services.downloads import record_download
from tests.factories import ProjectFactory


@pytest.mark.django_db
def test_downloads_are_counted_per_project_per_day():
    project = ProjectFactory()
    other = ProjectFactory()
    day = datetime.date(2026, 1, 1)
    for _ in range(3):
        record_download(project_id=project.pk, day=day)
    record_download(project_id=project.pk, day=day + datetime.timedelta(days=1))
    record_download(project_id=other.pk, day=day)
    counts = {(row.project_id, row.day): row.count for row in DownloadCount.objects.all()}
    assert counts == {
        (project.pk, day): 3,
        (project.pk, day + datetime.timedelta(days=1)): 1,
        (other.pk, day): 1,
    }


@pytest.mark.django_db
def test_download_counts_with_a_single_update_once_the_row_exists(
    django_assert_num_queries,
):
    project = ProjectFactory()
    record_download(project_id=project.pk)
    with django_assert_num_queries(1) as captured:
        record_download(project_id=project.pk)
    sql = captured.captured_queries[0]["sql"].upper()
    assert sql.startswith("UPDATE")
    assert "FOR UPDATE" not in sql
    assert DownloadCount.objects.get(project=project).count == 2
