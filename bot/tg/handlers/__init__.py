"""Command, button and message handlers: parse, call a service, reply. One module per topic."""
