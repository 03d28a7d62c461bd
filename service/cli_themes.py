"""Placeholder: being written."""


def register(app) -> None:
    pass
