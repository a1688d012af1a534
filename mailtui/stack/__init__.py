"""How mailtui talks to the running mail stack, shared by the install steps and the day-to-day
operations: the database, Dovecot restarts that lose no delivery, the mail log, the probes."""
