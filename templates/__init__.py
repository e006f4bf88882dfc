"""Package marker: the .jinja templates are loadable resources (jinja2.PackageLoader)."""
