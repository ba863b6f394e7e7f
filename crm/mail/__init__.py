"""E-mail: mailboxes polled over IMAP into the contacts' timelines, letters sent over SMTP.

- `models`: the tables (`mailboxes`, `mail_folder_states`, `letters`, `letter_attachments`).
- `crypto`: the mailbox passwords, encrypted with a key derived from TRUBKA_SECRET_KEY.
- `parse`: a letter's bytes → what Trubka keeps (pure; never raises on a malformed letter).
- `html_text`: an HTML-only letter's text (tags dropped, never rendered).
- `store`: a parsed letter into the database: its contacts, its thread, no duplicates.
- `imap`: the few IMAP commands the poller and the Sent folder need (aioimaplib).
- `poller`: the task "mail-poller": new letters by UID, UIDVALIDITY remembered.
- `mailboxes`: the admin's mailboxes; `letters`: reading and sending letters (SMTP).

docs/integrations.md ("E-mail") describes the behaviour.
"""
