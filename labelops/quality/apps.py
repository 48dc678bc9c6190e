from django.apps import AppConfig


class QualityConfig(AppConfig):
    """The quality rules: consensus, Dawid-Skene, agreement, gold checks,
    review, bulk labelling and the lead dashboard. Their tables belong to
    the `annotation` app (the queue reads and writes them too); this app
    owns what is done with them."""

    name = "labelops.quality"
    label = "quality"
    verbose_name = "Quality rules"

    def ready(self):
        # The queue's signals (labelops.annotation.signals): exactly one
        # receiver each, so every answer the queue records is judged.
        from labelops.annotation import signals
        from labelops.quality.services import answers

        signals.answer_submitted.connect(answers.on_answer_submitted, dispatch_uid="quality.on_answer_submitted")
        signals.item_dropped.connect(answers.on_item_dropped, dispatch_uid="quality.on_item_dropped")
