"""A database account that may touch only named columns of one table (column grants), e.g. the webmail's
password account: `SELECT (email), UPDATE (password) ON mailserver.virtual_users` and nothing else — it finds
a mailbox by its address and writes its new hash, and can neither read a hash nor change any other column
(MariaDB answers error 1143 for those). Anything beyond the wanted columns is revoked (the account is exact)."""

from __future__ import annotations

from mailtui.stack import db as dbmod
from mailtui.steps.sql_resources import SqlResource
from mailtui.steps.sql_session import SqlSession, query
from mailtui.steps.sql_statements import Sql, SqlPlan, create_user_sql


def column_grant_sql(columns: dict[str, tuple[str, ...]], database: str, table: str, user: str, host: str) -> Sql:
    """GRANT SELECT (email), UPDATE (password) ON db.table TO user@host."""
    parts = ", ".join(f"{privilege} ({', '.join(f'`{c}`' for c in cols)})" for privilege, cols in columns.items())
    return Sql(f"GRANT {parts} ON {dbmod.quote_identifier(database)}.`{table}` TO %s@%s", (user, host))


class ColumnAccountResource(SqlResource):
    """One host's account with exactly `columns` (privilege -> columns) on `table` of the mail database."""

    def __init__(self, session: SqlSession, user: str, password: str, table: str,
                 columns: dict[str, tuple[str, ...]], *, host: str, purpose: str) -> None:
        super().__init__(session)
        self.user = user
        self.password = password
        self.table = table
        self.columns = columns
        self.host = host
        self.purpose = purpose

    @property
    def target(self) -> str:
        return f"account {self.user}@{self.host} ({self.purpose})"

    def grants_text(self) -> str:
        return ", ".join(f"{p} ({', '.join(c)})" for p, c in self.columns.items()) + f" on {self.table}"

    def want_all(self) -> SqlPlan:
        return SqlPlan(f"create the account {self.user}@{self.host} ({self.purpose}: only {self.grants_text()})",
                       [*create_user_sql(self.user, self.host, self.password),
                        column_grant_sql(self.columns, self.db.name, self.table, self.user, self.host)])

    def wanted_pairs(self) -> set[tuple[str, str]]:
        return {(privilege, column) for privilege, cols in self.columns.items() for column in cols}

    def compare(self) -> SqlPlan:
        grantee = f"'{self.user}'@'{self.host}'"
        with self.session.root() as conn:
            if not query(conn, "SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (self.user, self.host)):
                return self.want_all()
            plan = SqlPlan()
            notes = []
            if not self.login_ok():
                plan.statements.append(create_user_sql(self.user, self.host, self.password)[1])
                notes.append("set the password from the answers")
            have = {(str(p).upper(), str(c)) for p, c in query(
                conn, "SELECT PRIVILEGE_TYPE, COLUMN_NAME FROM information_schema.COLUMN_PRIVILEGES "
                "WHERE GRANTEE = %s AND TABLE_SCHEMA = %s AND TABLE_NAME = %s", (grantee, self.db.name, self.table))}
            if not self.wanted_pairs() <= have:
                plan.statements.append(column_grant_sql(self.columns, self.db.name, self.table, self.user, self.host))
                notes.append(f"grant {self.grants_text()}")
            extra_columns = sorted(have - self.wanted_pairs())
            if extra_columns:
                parts = ", ".join(f"{p} (`{c}`)" for p, c in extra_columns)
                plan.statements.append(Sql(f"REVOKE {parts} ON {dbmod.quote_identifier(self.db.name)}.`{self.table}` "
                                           "FROM %s@%s", (self.user, self.host)))
                notes.append(f"revoke {parts} (the account may touch only {self.grants_text()})")
            wider = query(conn, "SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %s "
                          "UNION ALL SELECT 1 FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %s "
                          "UNION ALL SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s "
                          "AND PRIVILEGE_TYPE <> 'USAGE'", (grantee, grantee, grantee))
            if wider:
                plan.statements.append(Sql("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (self.user, self.host)))
                plan.statements.append(column_grant_sql(self.columns, self.db.name, self.table, self.user, self.host))
                notes.append("revoke privileges beyond its columns")
        if plan:
            plan.summary = f"update the account {self.user}@{self.host}: " + "; ".join(notes)
        return plan

    def login_ok(self) -> bool:
        endpoint = dbmod.socket_endpoint() if self.host == "localhost" else dbmod.Endpoint(self.host, self.db.port)
        try:
            conn = dbmod.connect(endpoint, self.user, self.password)
        except dbmod.ConnectFailed as exc:
            if exc.access_denied:
                return False
            raise
        with dbmod.closing(conn):
            # The server may match a TCP login from 127.0.0.1 to user@localhost (same password, set together).
            return dbmod.current_account(conn)[0] == self.user
