"""Reports a person looks at: the fleet exposure matrix as HTML, Markdown and PNG.

Every renderer starts from the JSON document ``netadvisor scan --json`` prints (read with
:func:`bot.report.model.read_scan`), so reports do not depend on how the scan is computed.
"""
