"""The dashboard: one module per tab (accounts, services, queue, mail log, bans) and their parts."""
