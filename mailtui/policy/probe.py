"""How mailtui's own probes show themselves to the stack they test, once: `mailtui check`, the install's
verify step and the round trip (stack/probe_client.py connects; stack/logparse.py recognises their lines).

Postfix logs neither an EHLO name nor an IMAP ID on a session that goes well, so the one mark every line of a
probe session carries is its client address: probes to this machine's loopback connect *from* SOURCE_ADDRESS
(Postfix logs `connect from unknown[127.0.0.2]`, Dovecot `rip=127.0.0.2`). It is loopback (127.0.0.0/8: in
mynetworks and in fail2ban's ignoreip), and nothing else on a mail server uses it. They also say EHLO_NAME
(Postfix logs it as helo=<…> on a rejection; the round trip's Received header has it), send IMAP ID (name
IMAP_ID_NAME) where the server offers it (Dovecot logs it only with imap_id_log), and leave with QUIT or
LOGOUT — Postfix then logs "disconnect from unknown[127.0.0.2] ehlo=1 quit=1 commands=2", never "lost
connection after CONNECT". The round trip's message has a Message-ID in MESSAGE_ID_DOMAIN and the sender
SENDER_LOCALPART@<the mailbox's domain>.
"""

from __future__ import annotations

SOURCE_ADDRESS = "127.0.0.2"
EHLO_NAME = "mailtui-probe.invalid"
IMAP_ID_NAME = "mailtui-probe"
MESSAGE_ID_DOMAIN = "mailtui.invalid"
SENDER_LOCALPART = "mailtui-probe"
LOOPBACK = "127.0.0.1"  # where the probes find the stack (SOURCE_ADDRESS is used only to reach this)
