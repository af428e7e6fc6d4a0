"""Fill the new key feature details and related item descriptions and URLs of the seed rows.

Only fields that are still empty are filled (topics.services.fill_empty_details), so an
instructor's text stays. A fresh database gets its rows from 0002 and their details here.

Then every content row without history gets its first history entry (its values now),
so the first change anyone makes to a seed row can be reverted from the admin.
"""

from django.db import migrations


def fill(apps, schema_editor):
    from topics.services import fill_empty_details, record_first_history

    fill_empty_details(apps=apps)
    record_first_history(
        apps, "topics", ["Category", "Topic", "KeyFeature", "UseCase", "RelatedItem", "TopicRelatedItem"],
        reason="Content as it was when history began",
    )


class Migration(migrations.Migration):
    dependencies = [("topics", "0004_history_feature_detail_related_description")]

    # Reversing keeps the text: it may have been edited since.
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
