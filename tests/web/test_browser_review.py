"""The reviewer screen in a real browser: a reviewer signs in, sees a
disputed item with both annotators' labels side by side, fixes it by
keyboard (F, a digit, Enter), rejects the next one with a comment (R, type,
Ctrl+Enter), and reaches the empty-queue screen. Debian's chromium, headless,
via Playwright, against the live server on the test database (the browser
set-up is the annotator test's). Screenshots go to var/screenshots/.
"""

from __future__ import annotations

from labelops.annotation.models import Annotation, Review, ReviewTask
from labelops.items.models import ItemState
from tests.annotation.conftest import label_item, make_items, set_rules
from tests.web.browser import SCREENSHOTS, sign_in

HOSTILE = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


def disputed_items(project, lead, annotator, annotator2):
    """Two items the two annotators disagree on (ties: disputed, in review);
    the first one's text is hostile markup."""
    set_rules(project, lead, overlap=2)
    items = make_items(project, 2)
    items[0].text = HOSTILE
    items[0].save(update_fields=["text"])
    for first, second in [("bug", "billing"), ("other", "bug")]:
        label_item(project, annotator, [first])
        label_item(project, annotator2, [second])
    for item in items:
        item.refresh_from_db()
        assert item.state == ItemState.IN_REVIEW
    return items


def shown_item(page) -> int:  # noqa: F811 (the page fixture's value)
    return int(page.locator("[data-item-id]").get_attribute("data-item-id"))


def test_a_reviewer_resolves_a_dispute_by_keyboard(live_server, page, project, lead, reviewer,  # noqa: F811
                                                   annotator, annotator2):
    items = disputed_items(project, lead, annotator, annotator2)
    sign_in(page, live_server, "/app/", "reviewer")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Tickets"))
    card.get_by_role("link", name="Review").click()
    page.wait_for_url(f"{live_server.url}/app/projects/{project.pk}/review")

    # The first disputed item: its text as text, why it is here, both annotations side by side.
    page.get_by_test_id("review-item-text").wait_for()
    assert shown_item(page) == items[0].pk
    assert page.get_by_test_id("review-item-text").inner_text() == HOSTILE
    assert page.evaluate("document.querySelectorAll('.item-text *').length") == 0
    assert "Disputed: the annotators are tied" in page.locator(".reasons").inner_text()
    first = page.locator('[data-annotator="annotator"]')
    second = page.locator('[data-annotator="annotator2"]')
    assert "Bug" in first.inner_text() and "Billing" in second.inner_text()
    # Side by side at 1280 px: the two cards share a row.
    assert first.bounding_box()["y"] == second.bounding_box()["y"]
    assert first.bounding_box()["x"] < second.bounding_box()["x"]
    assert "Consensus" in page.get_by_test_id("consensus").inner_text()
    assert page.get_by_role("button", name="Accept").is_disabled()  # a tie has nothing to accept
    page.screenshot(path=SCREENSHOTS / "review-1280.png")

    # Visible focus: Tab moves to a control that draws an outline.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    page.locator("[data-item-id]").focus()

    # F opens the picker; 3 picks "other"; Enter saves the fix. The next item follows.
    page.keyboard.press("f")
    page.get_by_label("Filter labels").wait_for()
    page.keyboard.press("3")
    assert page.locator('[data-label="other"]').get_attribute("aria-pressed") == "true"
    page.screenshot(path=SCREENSHOTS / "review-fix.png")
    page.keyboard.press("Enter")
    page.wait_for_function("id => document.querySelector('[data-item-id]')?.getAttribute('data-item-id') === String(id)",
                           arg=items[1].pk)
    assert "Fixed item" in page.get_by_role("status").filter(has_text="Fixed").inner_text()

    # Narrow screen: the cards stack, nothing wider than the viewport.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOTS / "review-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})

    # R opens the comment box (focused, empty); a reject needs the comment.
    page.keyboard.press("r")
    comment = page.get_by_label("Why do you reject it? The annotators will read this.")
    comment.wait_for()
    assert page.evaluate("document.activeElement.id") == "reject-comment"
    assert comment.input_value() == ""
    page.get_by_role("button", name="Reject with this comment").click()
    assert "Say why you reject it" in page.get_by_role("status").filter(has_text="Say why").inner_text()
    assert not Review.objects.filter(item=items[1]).exists()
    comment.fill("Neither: the customer asks about opening hours.")
    page.screenshot(path=SCREENSHOTS / "review-reject.png")
    comment.press("Control+Enter")

    page.get_by_role("heading", name="Nothing to review").wait_for()
    page.screenshot(path=SCREENSHOTS / "review-queue-empty.png")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == [] and page.dialogs == []

    fixed, rejected = Review.objects.get(item=items[0]), Review.objects.get(item=items[1])
    assert (fixed.reviewer, fixed.decision, fixed.labels) == (reviewer, "fix", ["other"])
    assert (rejected.decision, rejected.comment) == ("reject", "Neither: the customer asks about opening hours.")
    items[0].refresh_from_db()
    assert items[0].state == ItemState.APPROVED and items[0].consensus.labels == ["other"]
    assert not Annotation.objects.active().filter(item=items[1]).exists()  # back to the queue
    assert not ReviewTask.objects.open().exists()


def test_an_annotator_cannot_open_the_review_screen(live_server, page, project, annotator):  # noqa: F811
    sign_in(page, live_server, f"/app/projects/{project.pk}/review", "annotator")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "reviewer role" in alert.inner_text()
