"""The CLI's command groups, one module each; they parse, call the domain, print."""
