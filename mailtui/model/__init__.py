"""The install plan as data: the answers (typed), their validation, TOML and versions, password hashes."""
