"""Entry point placeholder until the CLI lands."""


def main() -> None:
    raise SystemExit("singaudit: the CLI is not built yet")
