"""One pending publisher per project name.

A name registered more than once cannot say which registrant should own the project its first
publish creates, so those pending publishers are all deleted before the constraint is added;
their registrants can register again (the first to do so gets the name).
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count


def delete_ambiguous_pending_publishers(apps, schema_editor):
    pending = apps.get_model("publishing", "PendingPublisher")
    ambiguous = (
        pending.objects.values("normalized_name")
        .annotate(rows=Count("pk"))
        .filter(rows__gt=1)
        .values_list("normalized_name", flat=True)
    )
    pending.objects.filter(normalized_name__in=list(ambiguous)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0001_trusted_publishers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="pendingpublisher",
            name="pending_publisher_unique",
        ),
        migrations.RunPython(delete_ambiguous_pending_publishers, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="pendingpublisher",
            constraint=models.UniqueConstraint(
                fields=("normalized_name",), name="pending_publisher_name_unique"
            ),
        ),
    ]
