"""The journal below the routers: whose rows are whose (ownership), the request and answer models the API
and an export's restore both check with (schemas), and the writes and lists the journal routers share (crud).

The names the routers import most are re-exported here, so `from service.journal import get_owned` stays
short; the models and the writes are imported from their modules (service.journal.schemas, .crud)."""

from service.journal.ownership import (
    FEEDBACK_TIME,
    check_device_cap,
    feedback_in_time_order,
    get_owned,
    get_owned_device,
    get_owned_feedback,
    get_owned_interview,
    get_owned_session,
    lock_strap_address,
    lock_user,
    refuse_future,
)

__all__ = [
    "FEEDBACK_TIME",
    "check_device_cap",
    "feedback_in_time_order",
    "get_owned",
    "get_owned_device",
    "get_owned_feedback",
    "get_owned_interview",
    "get_owned_session",
    "lock_strap_address",
    "lock_user",
    "refuse_future",
]
