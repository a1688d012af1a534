"""Mail client autoconfiguration, served by the webmail's nginx ([webmail]): a mail app that is given only an
address and a password finds the servers, ports and TLS modes itself.

- Thunderbird (and apps that follow it): `/mail/config-v1.1.xml` as asked at `autoconfig.<domain>` and
  `/.well-known/autoconfig/mail/config-v1.1.xml` as asked at `<domain>` (both over HTTP and HTTPS; Thunderbird
  tries HTTPS first).
- Outlook: POST `/autodiscover/autodiscover.xml` (any case) with the address in `<EMailAddress>`; the answer
  names it as the login, so a small PHP script (PHP-FPM is there for Roundcube) writes it. The request is
  read with a pattern, never with an XML parser (no entities, nothing fetched).

Everything in them comes from the port table (policy/ports.py): the ports the server really serves.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from mailtui.model.answers import Answers
from mailtui.policy import ports

CLIENT_DIR = "/var/www/mailtui-clients"
THUNDERBIRD_FILE = f"{CLIENT_DIR}/config-v1.1.xml"
AUTODISCOVER_SCRIPT = f"{CLIENT_DIR}/autodiscover.php"
THUNDERBIRD_PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")
AUTODISCOVER_PATH_RE = r"^/autodiscover/autodiscover\.xml$"  # matched without case (Outlook: Autodiscover/…)


def _mail_ports(answers: Answers) -> list[ports.Port]:
    """Where mail apps log in: the served ports that carry passwords (993, 995, 587, 465)."""
    return [p for p in ports.served(answers) if p.passwords]


def _socket_type(port: ports.Port) -> str:
    return "SSL" if port.tls == "implicit" else "STARTTLS"


def render_thunderbird(answers: Answers) -> str:
    host = escape(answers.hostname)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<!-- Written by mailtui ([webmail]); replaced on every "
             "install. -->", '<clientConfig version="1.1">', f'  <emailProvider id="{host}">']
    lines += [f"    <domain>{escape(d)}</domain>" for d in answers.domain_names]
    lines += [f"    <displayName>Mail at {host}</displayName>", f"    <displayShortName>{host}</displayShortName>"]
    for port in _mail_ports(answers):
        kind = {"imap": "incomingServer", "pop3": "incomingServer"}.get(port.speaks, "outgoingServer")
        protocol = port.speaks if port.speaks != "smtp" else "smtp"
        lines += [f'    <{kind} type="{protocol}">',
                  f"      <hostname>{host}</hostname>",
                  f"      <port>{port.number}</port>",
                  f"      <socketType>{_socket_type(port)}</socketType>",
                  "      <authentication>password-cleartext</authentication>",
                  "      <username>%EMAILADDRESS%</username>",
                  f"    </{kind}>"]
    lines += ["  </emailProvider>", "</clientConfig>", ""]
    return "\n".join(lines)


def render_autodiscover(answers: Answers) -> str:
    """The PHP that answers Outlook's POX autodiscover request."""
    host = escape(answers.hostname)
    protocols = []
    for port in _mail_ports(answers):
        kind = {"imap": "IMAP", "pop3": "POP3"}.get(port.speaks, "SMTP")
        tls = "<SSL>on</SSL>" if port.tls == "implicit" else "<SSL>off</SSL><Encryption>TLS</Encryption>"
        protocols.append(f"      <Protocol><Type>{kind}</Type><Server>{host}</Server><Port>{port.number}</Port>"
                         f"<DomainRequired>off</DomainRequired><LoginName>$email</LoginName><SPA>off</SPA>"
                         f"{tls}<AuthRequired>on</AuthRequired></Protocol>")
    body = "\n".join(protocols)
    return f"""<?php
// Written by mailtui ([webmail]); replaced on every install.
// Outlook's autodiscover: the address from the request (read with a pattern: no XML parser, no entities), the
// servers from mailtui's port table.
$request = (string) file_get_contents('php://input', false, null, 0, 65536);
$email = '';
if (preg_match('#<EMailAddress>\\s*([^<\\s]{{1,320}})\\s*</EMailAddress>#i', $request, $m)) {{
    $email = htmlspecialchars($m[1], ENT_XML1 | ENT_QUOTES, 'UTF-8');
}}
header('Content-Type: application/xml; charset=utf-8');
echo <<<XML
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
{body}
    </Account>
  </Response>
</Autodiscover>

XML;
"""


def nginx_locations(php_socket: str, headers: str, *, https: bool) -> str:
    """The locations nginx serves them at (Thunderbird's on both ports, Outlook's on HTTPS only)."""
    text = "".join(
        f"    location = {path} {{\n{headers}        types {{ }}\n        default_type application/xml;\n"
        f"        alias {THUNDERBIRD_FILE};\n    }}\n" for path in THUNDERBIRD_PATHS)
    if https:
        text += (f"    location ~* {AUTODISCOVER_PATH_RE} {{\n{headers}"
                 "        include fastcgi_params;\n"
                 f"        fastcgi_param SCRIPT_FILENAME {AUTODISCOVER_SCRIPT};\n"
                 f"        fastcgi_pass unix:{php_socket};\n    }}\n")
    return text
