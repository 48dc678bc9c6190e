"""The cluster explorer in a real browser: a lead opens the active model's
clusters, sorts them, browses one, selects members (a click, then a
shift-click for the range), bulk-labels them, sees the batch verifying and
cancels it; an ineligible selection's 400 is shown as text. Debian's chromium, headless,
via Playwright, against the live server on the test database (the browser
set-up is the annotator test's). Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import uuid

from labelops.annotation.models import BulkBatch, BulkBatchState
from labelops.items.models import Item, ItemState
from labelops.learning.models import Cluster, Proposal
from labelops.projects import services as project_services
from tests.annotation.conftest import activate_round
from tests.web.browser import SCREENSHOTS, sign_in

HOSTILE = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'


def clustered_project(project, lead):
    """An active round with two clusters: #0 of five unlabelled tickets (one
    hostile), #1 of eight members of which two are still unlabelled."""
    project_services.update_rules(actor=lead, project=project, overlap=1, gold_ratio=0,
                                  bulk_verification_rate=0.5, bulk_max_error_rate=0.1)
    round_ = activate_round(project, [])
    small = Cluster.objects.create(round=round_, index=0, size=5, centroid=b"\0" * 8, labelled_coverage=0.0,
                                   purity=None, top_labels=[])
    big = Cluster.objects.create(round=round_, index=1, size=8, centroid=b"\0" * 8, labelled_coverage=0.75,
                                 purity=0.8, top_labels=[{"label": "billing", "count": 5}])
    texts = ["The app crashes on start", "Error 500 on export", HOSTILE, "Button does nothing", "Freezes after update",
             "Charged twice", "Refund please"]
    items = [Item.objects.create(project=project, text=text, content_hash=f"clusters-{uuid.uuid4().hex}")
             for text in texts]
    for item, confidence in zip(items[:5], [0.95, 0.9, 0.85, 0.8, 0.7], strict=True):
        Proposal.objects.create(item=item, round=round_, labels=["bug"], confidence=confidence, cluster=small)
    for item in items[5:]:
        Proposal.objects.create(item=item, round=round_, labels=["billing"], confidence=0.6, cluster=big)
    return small, big, items


def test_a_lead_bulk_labels_a_selection_of_a_cluster(live_server, page, project, lead):  # noqa: F811
    small, big, items = clustered_project(project, lead)
    path = f"/app/projects/{project.pk}/clusters"
    sign_in(page, live_server, path, "lead")

    rows = page.locator("table.clusters-table tbody tr")
    rows.first.wait_for()
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.clusterId)") == [str(small.pk), str(big.pk)]
    page.get_by_role("button", name="Size").click()  # largest first
    page.wait_for_function(
        "id => document.querySelector('table.clusters-table tbody tr')?.dataset.clusterId === String(id)",
        arg=big.pk)
    assert page.get_by_role("columnheader", name="Size").get_attribute("aria-sort") == "descending"

    page.get_by_role("button", name="Browse the 5 unlabelled members of cluster 0").click()
    members = page.locator("table.members-table tbody tr")
    members.first.wait_for()
    assert page.evaluate("document.activeElement.id") == "members-title"  # focus follows to the members
    # Most confident first; the hostile text shows as text and runs nothing.
    assert members.evaluate_all("rows => rows.map(r => r.dataset.itemId)") == [str(item.pk) for item in items[:5]]
    assert page.get_by_text(HOSTILE, exact=True).is_visible()

    page.get_by_label(f"Select item {items[0].pk}").check()
    page.get_by_label(f"Select item {items[2].pk}").click(modifiers=["Shift"])
    page.get_by_text("3 items selected").wait_for()
    assert page.get_by_label(f"Select item {items[1].pk}").is_checked()
    assert not page.get_by_label(f"Select item {items[3].pk}").is_checked()

    page.locator(".bulk-panel").get_by_role("button", name="Bug").click()
    page.get_by_role("button", name="Bulk label…").click()
    summary = page.locator("#bulk-confirm-text")
    assert "A sample of 2 (ceil(0.5 × 3))" in summary.inner_text()
    assert "at most 10%" in summary.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "clusters-confirm.png"), full_page=True)
    page.get_by_role("button", name="Confirm bulk label").click()

    batch_row = page.locator("table.batches-table tbody tr").first
    batch_row.get_by_text("verifying").wait_for()
    batch = BulkBatch.objects.get(project=project)
    assert batch.state == BulkBatchState.VERIFYING
    assert batch.labels == ["bug"]
    assert sorted(batch.entries.values_list("item_id", flat=True)) == sorted(item.pk for item in items[:3])
    assert batch_row.get_attribute("data-batch-id") == str(batch.pk)
    assert "0 of 2 sampled verified" in batch_row.inner_text()
    page.get_by_text(f"Batch #{batch.pk} created").wait_for()
    # The batch's items are spoken for: the cluster now lists the other two.
    page.wait_for_function("() => document.querySelectorAll('table.members-table tbody tr').length === 2")
    page.get_by_role("button", name="Browse the 2 unlabelled members of cluster 0").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "clusters-batch-verifying.png"), full_page=True)

    # Withdrawn: the held item goes back to the queue and the cluster lists all five again.
    batch_row.get_by_role("button", name=f"Cancel batch {batch.pk}").click()
    batch_row.get_by_text("cancelled").wait_for()
    page.wait_for_function("() => document.querySelectorAll('table.members-table tbody tr').length === 5")
    batch.refresh_from_db()
    assert batch.state == BulkBatchState.CANCELLED
    assert set(Item.objects.filter(pk__in=[i.pk for i in items[:3]]).values_list("state", flat=True)) == {
        ItemState.UNLABELLED}

    page.set_viewport_size({"width": 390, "height": 800})  # a phone: tables scroll sideways, nothing clips
    page.screenshot(path=str(SCREENSHOTS / "clusters-narrow.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert page.evaluate("window.__pwned ?? null") is None
    assert page.dialogs == [] and page.errors == []


def test_an_ineligible_selection_shows_the_apis_reason(live_server, page, project, lead):  # noqa: F811
    small, _, items = clustered_project(project, lead)
    sign_in(page, live_server, f"/app/projects/{project.pk}/clusters", "lead")
    page.get_by_role("button", name="Browse the 5 unlabelled members of cluster 0").click()
    # By keyboard: Space checks a box, Tab moves to the next row's, Shift+Space extends the range.
    page.get_by_label(f"Select item {items[0].pk}").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Select item {items[2].pk}"
    page.keyboard.press("Shift+Space")
    page.get_by_text("3 items selected").wait_for()
    # Meanwhile an annotator leased item 1: the server refuses the selection.
    Item.objects.filter(pk=items[1].pk).update(active_lease_count=1)
    page.locator(".bulk-panel").get_by_role("button", name="Other").click()
    page.get_by_role("button", name="Bulk label…").click()
    page.get_by_role("button", name="Confirm bulk label").click()
    alert = page.locator(".bulk-panel [role=alert]")
    alert.wait_for()
    assert str(items[1].pk) in alert.inner_text()
    assert "leased" in alert.inner_text()
    assert not BulkBatch.objects.filter(project=project).exists()
    assert Item.objects.get(pk=items[0].pk).state == ItemState.UNLABELLED
    page.screenshot(path=str(SCREENSHOTS / "clusters-error.png"), full_page=True)
    assert page.errors == []
