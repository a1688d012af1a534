"""The webmail's password change ([webmail]): Roundcube's password plugin writing `{SHA512-CRYPT}` hashes through
an account that may only find a mailbox by its address and write its password (column grants), under the rules
of `mailtui user passwd` (a strength driver of mailtui's), and Dovecot's auth cache flushed after each change (a
plugin of mailtui's asks, a root-owned systemd path unit flushes: PHP runs as www-data), so the old password
stops working at once, as after `mailtui user passwd`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import web
from mailtui.policy.web import php_str
from mailtui.report import Change
from mailtui.steps.base import Context, Resource
from mailtui.steps.resources import DirectoryResource, FileResource
from mailtui.steps.sql_column_account import ColumnAccountResource
from mailtui.steps.sql_resources import LOCAL_ACCOUNT_HOSTS
from mailtui.steps.sql_session import SqlSession
from mailtui.system import services
from mailtui.system.commands import run

HEADER = web.MANAGED


def render_password_config(answers: Answers) -> str:
    """plugins/password/config.inc.php: the sql driver through the column-granted account, SHA512-CRYPT with the
    {SHA512-CRYPT} prefix mailtui stores (without a prefix setting none is written), the current password
    required, mailtui's rules (STRENGTH_DRIVER)."""
    db = answers.database
    dsn = f"mysql://{web.PASSWORD_DB_USER}:{answers.webmail.password_db_password}@127.0.0.1:{db.port}/{db.name}"
    lines = [
        "<?php",
        f"// {HEADER}",
        "$config = [];",
        "$config['password_driver'] = 'sql';",
        f"$config['password_db_dsn'] = {php_str(dsn)};",
        f"$config['password_query'] = 'UPDATE `{web.PASSWORD_TABLE}` SET `password` = %P WHERE `email` = %u';",
        "$config['password_algorithm'] = 'sha512-crypt';",
        "$config['password_algorithm_prefix'] = '{SHA512-CRYPT}';",
        "$config['password_confirm_current'] = true;",
        "// The rules of `mailtui user passwd`: 8 to 256 characters, printable, no space at either end.",
        "$config['password_minimum_length'] = 8;",
        "$config['password_minimum_score'] = 1;",
        "$config['password_strength_driver'] = 'mailtui';",
        "$config['password_log'] = true;",
        "",
    ]
    return "\n".join(lines)


STRENGTH_DRIVER_PHP = """<?php
// HEADER
// The password rules of `mailtui user passwd` (mailtui/model/validate.py mailbox_password_problem) for
// Roundcube's password plugin: 8 to 256 characters, printable, no whitespace at the start or the end.
class rcube_mailtui_password
{
    function strength_rules()
    {
        return ['8 to 256 characters, no space at the start or the end.'];
    }

    function check_strength($passwd)
    {
        $length = mb_strlen($passwd, 'UTF-8');
        if ($length < 8) {
            return [0, 'It must be at least 8 characters.'];
        }
        if ($length > 256) {
            return [0, 'It is longer than 256 characters.'];
        }
        if (preg_match('/^[\\s\\p{Z}]|[\\s\\p{Z}]$/u', $passwd)) {
            return [0, 'It must not start or end with whitespace.'];
        }
        if (preg_match('/[\\p{C}\\p{Zl}\\p{Zp}]|(?! )\\p{Zs}/u', $passwd)) {
            return [0, 'It must not contain control characters.'];
        }
        return [1, null];
    }
}
""".replace("HEADER", HEADER)

FLUSH_PLUGIN_PHP = f"""<?php
// {HEADER}
// After a password change in the webmail: asks for Dovecot's auth cache to be flushed, so the old password
// stops working at once (as after `mailtui user passwd`). PHP runs as www-data; the root-owned systemd path
// unit {web.FLUSH_UNIT}.path flushes when a request appears in {web.FLUSH_SPOOL}.
class {web.FLUSH_PLUGIN} extends rcube_plugin
{{
    public $task = 'settings';

    function init()
    {{
        $this->add_hook('password_change', [$this, 'flush']);
    }}

    function flush($args)
    {{
        if (@file_put_contents('{web.FLUSH_SPOOL}/' . bin2hex(random_bytes(8)), "flush\n") === false) {{
            rcube::raise_error(['code' => 600, 'file' => __FILE__, 'line' => __LINE__,
                'message' => 'mailtui: could not ask for the auth cache flush in {web.FLUSH_SPOOL}'], true, false);
        }}
        return $args;
    }}
}}
"""

FLUSH_PATH_UNIT = f"""# {HEADER}
[Unit]
Description=mailtui: flush Dovecot's auth cache after a password change in the webmail

[Path]
DirectoryNotEmpty={web.FLUSH_SPOOL}

[Install]
WantedBy=paths.target
"""

FLUSH_SERVICE_UNIT = f"""# {HEADER}
[Unit]
Description=mailtui: flush Dovecot's auth cache (a password changed in the webmail)

[Service]
Type=oneshot
ExecStart=/usr/bin/find {web.FLUSH_SPOOL} -mindepth 1 -maxdepth 1 -type f -delete
ExecStart=/usr/bin/doveadm auth cache flush
"""


# Without systemd (no path unit): cron looks every minute, so the old password stops working within a minute.
FLUSH_CRON = f"""# {HEADER}
# Without systemd: Dovecot's auth cache is flushed within a minute of a password change in the webmail.
* * * * * root [ -n "$(find {web.FLUSH_SPOOL} -mindepth 1 -maxdepth 1 -type f -print -quit)" ] && find \
{web.FLUSH_SPOOL} -mindepth 1 -maxdepth 1 -type f -delete && /usr/bin/doveadm auth cache flush
"""  # (the backslash joins the two source lines: cron reads one line)


@dataclass
class EnabledUnitResource:
    """A systemd unit mailtui wrote, enabled and active (`systemctl enable --now`, after a daemon-reload)."""

    unit: str
    kind = "service"

    @property
    def target(self) -> str:
        return self.unit

    def describe(self) -> str:
        return f"{self.unit} enabled and active"

    def pending(self, ctx: Context) -> Change | None:
        state = services.unit_state(self.unit)
        if (state.enabled, state.active) == ("enabled", "active"):
            return None
        return Change("service", self.unit, f"enable and start {self.unit}",
                      f"$ systemctl daemon-reload\n$ systemctl enable --now {self.unit}")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        run(["systemctl", "daemon-reload"], on_line=out.line)
        run(["systemctl", "enable", "--now", self.unit], on_line=out.line)


Resource.register(EnabledUnitResource)


def password_resources(answers: Answers) -> list[Resource]:
    """The account (one per local host), the plugin's configuration, the rules, the auth cache flush."""
    session = SqlSession(answers.database)
    resources: list[Resource] = [
        ColumnAccountResource(session, web.PASSWORD_DB_USER, answers.webmail.password_db_password,
                              web.PASSWORD_TABLE, web.PASSWORD_COLUMNS, host=host,
                              purpose="the webmail's password change")
        for host in LOCAL_ACCOUNT_HOSTS]
    resources += [
        FileResource(web.PASSWORD_PLUGIN_CONFIG, render_password_config(answers), group="www-data", mode=0o640,
                     secret=True),
        FileResource(web.STRENGTH_DRIVER, STRENGTH_DRIVER_PHP),
        DirectoryResource(web.FLUSH_SPOOL, group="www-data", mode=0o730),
        DirectoryResource(web.FLUSH_PLUGIN_DIR),
        FileResource(f"{web.FLUSH_PLUGIN_DIR}/{web.FLUSH_PLUGIN}.php", FLUSH_PLUGIN_PHP),
    ]
    if services.has_systemd():
        resources += [FileResource(f"/etc/systemd/system/{web.FLUSH_UNIT}.service", FLUSH_SERVICE_UNIT),
                      FileResource(f"/etc/systemd/system/{web.FLUSH_UNIT}.path", FLUSH_PATH_UNIT),
                      EnabledUnitResource(f"{web.FLUSH_UNIT}.path")]
    else:
        resources.append(FileResource(web.FLUSH_CRON, FLUSH_CRON))  # cron runs it (the webmail step starts cron)
    return resources
