"""Day-to-day operations on an installed server: accounts, queue, services, bans, logs, checks, DNS."""
