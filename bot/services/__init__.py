"""The application service layer: what the doors (the command line, the Telegram bot, the feed
pipeline) ask the project to do, each in one place.

A door parses its input, calls a service and shows the outcome; a service does the work with the
database (``db``), the ingest layer (``bot.ingest``), the list parsers (``bot.lists``) and the
matching engine, and reports failures by raising a ``bot.errors.SanctionsBotError`` whose
message is fit to show. Services import neither ``typer`` nor ``telegram`` (the composition root
of ``run``, ``bot.services.run``, wires the Telegram bot in, importing it only when a token is
configured).

* ``scan``: match texts and store them, grouped into stories (``stories``): every door's path;
* ``inputs``: read what ``scan`` is given (files, URLs fetched concurrently, standard input);
* ``run``: the watcher's composition root (sinks, signals, fetcher, extractor, pipeline,
  scheduler, list sync, the Telegram bot) and the demo's;
* ``lists``, ``feeds``, ``review``, ``rules``, ``alerts``, ``evaluation``: the other commands'
  work;
* ``app``: opening the database, with an error fit to show when it cannot be.
"""
