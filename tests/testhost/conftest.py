from tests.harness.fixtures import net  # noqa: F401  (several hosts on one sealed network)
