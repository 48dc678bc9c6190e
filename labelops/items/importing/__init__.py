"""Bringing items into a project: CSV, JSON Lines, images (ZIP or folder)
and Label Studio JSON.

- `readers`: one streaming generator per format, yielding `SourceRecord`s;
- `images`: verifying image bytes with Pillow;
- `storage`: files under ARTIFACT_ROOT, always with generated names;
- `writers`: inserting item rows (bulk_create, or COPY on PostgreSQL);
- `options`: the validated options every entry point shares;
- `pipeline`: `run_import(job)`, the service that cleans, deduplicates,
  splits and writes, all in one transaction;
- `jobs`: `submit_import(...)`, storing an upload and queueing its job.

The task `labelops.items.tasks.run_import_job` runs queued jobs in a worker;
the `import_items` command runs one synchronously for a server admin.
"""
