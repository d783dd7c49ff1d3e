"""The OAuth scopes followup asks Google for: the least that covers what it does.

Each scope is listed with the calls that need it (checked against the discovery documents
bundled with google-api-python-client). docs/google.md explains them to users.
"""

from __future__ import annotations

from followup.config import GoogleAccount

_BASE = "https://www.googleapis.com/auth/"

# Read meetings: events.list/get on the calendars in `calendars` (never writes).
CALENDAR_EVENTS_READONLY = _BASE + "calendar.events.readonly"
# Availability: freeBusy.query, which tells busy times without event details.
CALENDAR_FREEBUSY = _BASE + "calendar.freebusy"
# Follow-up blocks in the primary calendar: events.insert/get/delete on calendars the user
# owns (narrower than calendar.events, which also covers calendars shared with edit rights).
CALENDAR_EVENTS_OWNED = _BASE + "calendar.events.owned"
# Follow-up blocks in a calendar of their own: calendars.insert, and events in calendars
# this app created, nothing else.
CALENDAR_APP_CREATED = _BASE + "calendar.app.created"
# Finding that calendar again after a restart: calendarList.list (calendar.app.created does
# not allow listing, and storing its id only locally would create a second one after a reset).
CALENDAR_LIST_READONLY = _BASE + "calendar.calendarlist.readonly"
# Drafts: drafts.create/get/list/delete. gmail.compose cannot search mail.
GMAIL_COMPOSE = _BASE + "gmail.compose"
# Mail history and invitations: messages.list with a `q` search, messages.get, getProfile.
# gmail.metadata refuses `q`, so searching needs gmail.readonly.
GMAIL_READONLY = _BASE + "gmail.readonly"
# Contacts: searchContacts, createContact, updateContact, contactGroups.*.
CONTACTS = _BASE + "contacts"
# "Other contacts" (people mailed but never saved): otherContacts.search, for their names.
CONTACTS_OTHER_READONLY = _BASE + "contacts.other.readonly"


def uses_own_calendar(cfg: GoogleAccount) -> bool:
    """Blocks go to a calendar named `followup_calendar` unless it is "primary"."""
    return cfg.followup_calendar.strip().lower() != "primary"


def scopes_for(cfg: GoogleAccount) -> list[str]:
    scopes = [CALENDAR_EVENTS_READONLY, CALENDAR_FREEBUSY]
    if uses_own_calendar(cfg):
        scopes += [CALENDAR_APP_CREATED, CALENDAR_LIST_READONLY]
    else:
        scopes.append(CALENDAR_EVENTS_OWNED)
    scopes += [GMAIL_COMPOSE, GMAIL_READONLY, CONTACTS, CONTACTS_OTHER_READONLY]
    return scopes
