"""One scheduler for the project-wide recomputations: a `Recompute` row per
project and kind. Its state is carried over from where it was kept before:
the agreement snapshot's own columns, and for Dawid-Skene the audit trail
(the newest `consensus.dawid_skene` event of each project)."""

import django.db.models.deletion
from django.db import migrations, models

# The thresholds the schedule had when this migration was written (see
# labelops.quality.services.schedule): a row's `due_at` is only a lower
# bound, so these need not track later changes.
DAWID_SKENE_EVERY, DAWID_SKENE_GROWTH, AGREEMENT_EVERY = 100, 10, 50


def carry_over(apps, schema_editor):
    Recompute = apps.get_model("annotation", "Recompute")
    AgreementSnapshot = apps.get_model("annotation", "AgreementSnapshot")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    rows = []
    for snapshot in AgreementSnapshot.objects.all():
        last = snapshot.last_annotation_id
        rows.append(Recompute(project_id=snapshot.project_id, kind="agreement", last_annotation_id=last,
                              finished_at=snapshot.computed_at, queued_at=snapshot.refresh_queued_at,
                              due_at=last + AGREEMENT_EVERY if snapshot.computed_at else 0))
    newest_runs = {}
    for event in (AuditEvent.objects.filter(object_type="projects.project", verb="consensus.dawid_skene")
                  .order_by("id")):
        newest_runs[int(event.object_id)] = event
    for project_id, event in newest_runs.items():
        last, size = event.after.get("last_annotation_id", 0), event.after.get("annotations", 0)
        rows.append(Recompute(project_id=project_id, kind="dawid_skene", last_annotation_id=last, last_size=size,
                              finished_at=event.created_at,
                              due_at=last + max(DAWID_SKENE_EVERY, size // DAWID_SKENE_GROWTH)))
    Recompute.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0005_bulk_batches'),
        ('audit', '0001_initial'),
        ('projects', '0003_label_key_any_printable'),
    ]

    operations = [
        migrations.CreateModel(
            name='Recompute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('dawid_skene', 'Dawid-Skene consensus'), ('agreement', 'Agreement metrics')], max_length=16)),
                ('last_annotation_id', models.PositiveBigIntegerField(default=0)),
                ('last_size', models.PositiveIntegerField(default=0)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('due_at', models.PositiveBigIntegerField(default=0)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='recomputes', to='projects.project')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.UniqueConstraint(fields=('project', 'kind'), name='one_recompute_per_kind')],
            },
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='agreementsnapshot',
            name='last_annotation_id',
        ),
        migrations.RemoveField(
            model_name='agreementsnapshot',
            name='refresh_queued_at',
        ),
    ]
