"""The Telegram layer: commands in, alerts out (python-telegram-bot).

Not named ``telegram`` (that would shadow the library). ``app.build_application`` wires an
``Application``; ``runner.run_telegram`` runs it with the delivery worker. Domain code never
imports this package.
"""
