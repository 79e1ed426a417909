"""The Telegram layer: commands in, alerts out (python-telegram-bot).

Not named ``telegram`` (that would shadow the library). ``app.build_application`` wires an
``Application``; ``runner.run_telegram`` runs it with the delivery worker; ``health`` says
whether Telegram is reachable (outages are retried, a rejected token stops the run). Domain
code never imports this package.
"""
