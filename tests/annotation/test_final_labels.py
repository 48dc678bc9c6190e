"""The one owner of an item's final labels: `Consensus.objects.put`,
`put_new` and `clear` keep `FinalLabel` rows equal to the consensus labels."""

from __future__ import annotations

from labelops.annotation.models import Consensus, ConsensusMethod, ConsensusStatus, FinalLabel
from labelops.items.models import Item
from tests.annotation.conftest import make_items


def final_labels(item_id: int) -> set[str]:
    return set(FinalLabel.objects.filter(item_id=item_id).values_list("key", flat=True))


def test_put_creates_then_rewrites_the_final_labels(project):
    item = make_items(project, 1)[0]
    version = project.active_taxonomy()
    consensus, before = Consensus.objects.put(item.pk, labels=["billing", "bug"], method=ConsensusMethod.MAJORITY,
                                              status=ConsensusStatus.AGREED, taxonomy_version=version)
    assert before is None and final_labels(item.pk) == {"billing", "bug"}

    again, before = Consensus.objects.put(item.pk, labels=["bug", "other"], status=ConsensusStatus.APPROVED)
    assert again.pk == consensus.pk
    assert before["labels"] == ["billing", "bug"] and before["status"] == ConsensusStatus.AGREED
    assert again.method == ConsensusMethod.MAJORITY  # fields not given stay as they were
    assert final_labels(item.pk) == {"bug", "other"}
    assert Item.objects.with_label("billing").count() == 0


def test_put_new_writes_rows_and_final_labels_in_bulk_and_clear_removes_both(project):
    items = make_items(project, 3)
    version = project.active_taxonomy()
    rows = Consensus.objects.put_new([
        Consensus(item_id=item.pk, labels=["other"], method=ConsensusMethod.BULK, status=ConsensusStatus.APPROVED,
                  taxonomy_version=version)
        for item in items
    ])
    assert all(row.pk for row in rows)
    assert [final_labels(item.pk) for item in items] == [{"other"}] * 3

    Consensus.objects.clear(items[0].pk)
    assert not Consensus.objects.filter(item=items[0]).exists() and final_labels(items[0].pk) == set()
    assert final_labels(items[1].pk) == {"other"}
