"""What the round services and steps raise besides bad input. A leaf module
(it imports nothing of the platform but `labelops.errors`), so the services,
the pipeline steps and the API all import it without importing each other."""

from __future__ import annotations

from labelops.errors import Conflict, Unavailable


class RoundConflict(Conflict):
    """The project already has a round in flight (`round_running`), or the
    round to cancel has already finished (`round_finished`): a 409."""

    default_code = "round_running"


class BrokerUnavailable(Unavailable):
    """The first step of a new round could not be handed to the broker. The
    round is recorded as failed with this message (so nothing is left
    `queued` forever) and the API answers 503."""

    default_code = "broker_unavailable"


class RoundStopped(Exception):
    """Raised inside a step when its round was cancelled, failed elsewhere,
    or its attempt was superseded: the step stops without touching the row."""
