"""Package marker: the .lark grammar files are loadable resources (Lark.open_from_package)."""
