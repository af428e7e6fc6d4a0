"""Load the seed content, so a fresh `migrate` already shows all 4 categories and 13 topics.

This runs topics.services.load_content with this migration's historical model
registry, never the current topics.models: see that function's docstring for
the contract that keeps it valid as the models change. On a database that
already holds content it creates only what is missing, exactly like
`manage.py load_content`.
"""

from django.db import migrations


def load_seed_content(apps, schema_editor):
    from topics.services import load_content

    load_content(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("topics", "0001_initial")]

    # Reversing keeps the content: it may hold instructors' edits by then.
    operations = [migrations.RunPython(load_seed_content, migrations.RunPython.noop)]
