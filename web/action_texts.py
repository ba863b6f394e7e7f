"""What the live view says after a supervisor's action, in the page's language.

The API's `message` stays what it was (the PBX's own words for scripts and logs); the page
shows these instead: `done_<action>` when the action went through, `failed_<code>` for the
refusals people meet, each with `{agent}` (and `{queue}`) filled in by the script.
"""

from __future__ import annotations

from web.i18n import N_

DONE = {
    "done_listen": N_("Your phone answered: you are listening to {agent}."),
    "done_whisper": N_("Your phone answered: you are whispering to {agent}."),
    "done_barge": N_("Your phone answered: you joined the call of {agent}."),
    "done_pause": N_("{agent} is paused."),
    "done_unpause": N_("{agent} is no longer paused."),
    "done_queue_remove": N_("{agent} was logged out of queue {queue}."),
    "done_hangup": N_("The call of {agent} was hung up."),
}
FAILED = {
    "failed_agent_not_found": N_("{agent} is not known to the phone system now."),
    "failed_agent_not_on_call": N_("{agent} is not on a call now."),
    "failed_not_a_member": N_("{agent} is not in that queue."),
    "failed_static_member": N_(
        "{agent} is a permanent member of the queue: the phone system cannot log them out; "
        "pause them instead."
    ),
    "failed_no_phone": N_("You have no phone in your profile: ask an admin to add one."),
    "failed_not_your_phone": N_("That phone is not one of yours."),
    "failed_phone_not_answered": N_("Your phone did not answer."),
    "failed_channel_gone": N_("The call has already ended."),
    "failed_call_not_found": N_("The call has already ended."),
    "failed_pbx_unavailable": N_("The phone system is not connected right now."),
    "failed_pbx_refused": N_("The phone system refused the action."),
    "failed_forbidden": N_("Your role does not allow this action."),
}
ACTION_TEXTS = {**DONE, **FAILED}
