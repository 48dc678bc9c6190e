"""A small text project for round tests: three intents with distinctive
wording, some approved labels (pool and holdout), the rest unlabelled.

Small on purpose (about 90 items): the real MiniLM encoder embeds it in a
second or two, and every step of a round runs for real.
"""

from __future__ import annotations

import hashlib

import pytest

from labelops.annotation.models import Consensus, ConsensusMethod, ConsensusStatus, FinalLabel
from labelops.items.models import Item, ItemState, Split

TEMPLATES = {
    "billing": ["I was charged twice for my {} subscription", "please refund the {} invoice",
                "my credit card was billed wrongly for {}", "why is the {} payment so high this month"],
    "bug": ["the {} page crashes when I click save", "error 500 when opening {}",
            "the {} app freezes after the update", "button on the {} screen does nothing"],
    "other": ["what are your opening hours in {}", "can I talk to someone about {} careers",
              "do you have an office near {}", "thanks for the help with {}"],
}
WORDS = ["premium", "family", "office", "mobile", "desktop", "annual", "student", "team"]


def _item(project, text: str, split: str, state: str) -> Item:
    return Item.objects.create(project=project, text=text, split=split, state=state,
                               content_hash=hashlib.sha256(text.encode()).hexdigest())


def one_item_per_template(project) -> None:
    """12 unlabelled pool items, one per template: a project with nothing approved."""
    for templates in TEMPLATES.values():
        for template in templates:
            _item(project, template.format("x"), Split.POOL, ItemState.UNLABELLED)


def approve(item: Item, label: str) -> None:
    Consensus.objects.create(item=item, labels=[label], method=ConsensusMethod.MAJORITY, agreement=1.0,
                             status=ConsensusStatus.APPROVED, taxonomy_version=item.project.active_taxonomy())
    FinalLabel.objects.create(item=item, key=label)
    Item.objects.filter(pk=item.pk).update(state=ItemState.APPROVED)


@pytest.fixture
def round_project(project, lead):
    """The persona project with 96 items: per intent 4 approved pool items,
    4 approved holdout items and 24 unlabelled pool items."""
    from labelops.projects import services as project_services

    project_services.update_project(actor=lead, project=project,
                                    settings={"pretraining": False, "batch_size": 10, "n_clusters": 6})
    project.refresh_from_db()
    for label, templates in TEMPLATES.items():
        texts = [t.format(w) for t in templates for w in WORDS]  # 32 per intent
        for i, text in enumerate(texts):
            if i < 4:
                approve(_item(project, text, Split.POOL, ItemState.UNLABELLED), label)
            elif i < 8:
                approve(_item(project, text, Split.HOLDOUT, ItemState.UNLABELLED), label)
            else:
                _item(project, text, Split.POOL, ItemState.UNLABELLED)
    return project
